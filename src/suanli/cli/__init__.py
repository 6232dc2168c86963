"""The `suanli` command line (Typer + Rich). It talks to the REST API; `up` wires the embedded default."""
