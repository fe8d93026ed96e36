from gridos.cli import app

app()
