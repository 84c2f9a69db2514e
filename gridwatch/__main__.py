from gridwatch.cli import main

raise SystemExit(main())
