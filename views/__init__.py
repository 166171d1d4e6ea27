"""Flask-AppBuilder views, one module per domain; registered in app/menu.py."""
