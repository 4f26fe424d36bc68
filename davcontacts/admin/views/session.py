"""Signing in and out."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from .. import auth

bp = Blueprint("session", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.values.get("next", "")
    if request.method == "GET":
        if g.user is not None:
            return redirect(auth.safe_next(next_url))
        return render_template("login.html", next_url=next_url, username="")
    username = request.form.get("username", "")
    result = auth.check_login(username, request.form.get("password", ""), request.environ)
    if result.user is None:
        return render_template("login.html", next_url=next_url, username=username,
                               error=result.message), 429 if result.throttled else 401
    auth.login(result.user)
    return redirect(auth.safe_next(next_url))


@bp.route("/logout", methods=["POST"])
def logout():
    auth.logout()
    return redirect(url_for("session.login"))
