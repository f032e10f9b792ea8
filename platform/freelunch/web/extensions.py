"""Flask extensions, created unbound so blueprints can import them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from ..parsing import whole_number

csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()
# Counts in the Redis we already run (RATELIMIT_STORAGE_URI, set from REDIS_URL); only routes that ask are limited.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


@login_manager.user_loader
def _load_user(session_id: str):
    """The user of a session id "<user id>:<session version>"; any other version (ended sessions) is nobody."""
    from ..models import User

    user_id, _, version = session_id.partition(":")
    user_id, version = whole_number(user_id), whole_number(version, high=2**31 - 1)
    if user_id is None or version is None:
        return None
    return User.get_or_none(User.id == user_id, User.session_version == version)
