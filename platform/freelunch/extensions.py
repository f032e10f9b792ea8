"""Flask extensions, created unbound so blueprints can import them."""
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def _load_user(user_id: str):
    from .models import User

    return User.get_or_none(User.id == int(user_id))
