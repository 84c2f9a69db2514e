"""The console: static pages, styles and scripts served by the API."""
