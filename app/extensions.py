"""Extension instances, bound to the app in create_app."""
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from models import Model

db = SQLA(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()
