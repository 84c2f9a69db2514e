"""Check that the local services the tests talk to answer on 127.0.0.1, and say clearly what is missing.

PostgreSQL is required (database tests run on it); MQTT (Mosquitto) is required by the events
tests; Redis and NATS are reported for completeness.
"""

from __future__ import annotations

import socket
import sys

REQUIRED = {"PostgreSQL": 5432, "Mosquitto (MQTT)": 1883}
OPTIONAL = {"Redis": 6379, "NATS": 4222}
HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Mosquitto (MQTT)": "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''",
    "NATS": "nats-server -a 127.0.0.1 -p 4222 -js &",
}


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def postgres_ok() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return str(exc).strip().splitlines()[0]
    return None


def main() -> int:
    missing = []
    for name, port in {**REQUIRED, **OPTIONAL}.items():
        ok = answers(port)
        detail = ""
        if ok and name == "PostgreSQL":
            problem = postgres_ok()
            if problem:
                ok, detail = False, f" (connects, but database 'test' refuses: {problem})"
        state = "ok" if ok else "MISSING"
        print(f"[services] {name:17} 127.0.0.1:{port:<5} {state}{detail}")
        if not ok:
            print(f"[services]   start it with: {HINTS[name]}")
            if name in REQUIRED:
                missing.append(name)
    if missing:
        print(f"[services] required services missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
