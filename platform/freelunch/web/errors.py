"""Error pages in the site's layout; JSON for API clients."""

from flask import Flask, jsonify, make_response, render_template, request
from peewee import DataError
from werkzeug.exceptions import BadRequest, HTTPException, TooManyRequests
from werkzeug.routing import IntegerConverter

from ..parsing import ID_MAX
from ..services import jobs
from . import partials


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number no row can have (2**63 and more) matches nothing, so it is a 404."""

    def __init__(self, map, fixed_digits=0, min=None, max=ID_MAX, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_in_the_address_or_a_form():
        # PostgreSQL text cannot hold NUL, and psycopg2 refuses it before sending (a ValueError, not a DataError);
        # SQLite would store a name that shows as nothing.
        if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
            raise BadRequest("The address has a NUL character in it.")
        # Posted fields likewise (CSRF has read them already). The worker's page reads its own form, after raising
        # the size a form may have (annotate/routes.py), and refuses a NUL there as a bad token, page or summary.
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.blueprint != "annotate":
            if any("\x00" in key or "\x00" in value for key, value in request.form.items(multi=True)):
                raise BadRequest("A form field has a NUL character in it.")

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if _wants_json():
            return jsonify(error=error.name, message=error.description), error.code
        return render_template("errors/error.html", error=error), error.code

    @app.errorhandler(OverflowError)  # SQLite: a number past 64 bits in a form or query
    @app.errorhandler(DataError)  # PostgreSQL: the same, or text it cannot store
    def _out_of_range(error: Exception):
        return _http_error(BadRequest("A number or text in the request is out of range."))

    @app.errorhandler(jobs.QueueFull)  # the organization's pending jobs are at their limit (services/jobs.py)
    def _queue_full(error: jobs.QueueFull):
        if _wants_json():
            return jsonify(error="Too Many Requests", message=str(error)), 429
        if partials.wanted():  # every page has #flashes (base.html), wherever the form meant to swap
            response = make_response(render_template("errors/_flash.html", message=str(error)), 422)
            response.headers.update({"HX-Retarget": "#flashes", "HX-Reswap": "innerHTML"})
            return response
        return _http_error(TooManyRequests(str(error)))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("Unhandled error on %s", request.path)
        if _wants_json():
            return jsonify(error="Internal Server Error", message="Something went wrong on our side."), 500
        return render_template("errors/500.html"), 500
