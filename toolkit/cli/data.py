import typer

app = typer.Typer(help="Competition data.", no_args_is_help=True)
