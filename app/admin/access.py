"""API tokens and admin users in the admin."""

from __future__ import annotations

from flask import flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from sqlalchemy import CursorResult, func, update
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length, Optional

from app.admin.base_views import SecureModelView, email_field_args, integer_ids
from app.admin.formatting import DETAIL_TYPE_FORMATTERS, LIST_TYPE_FORMATTERS
from app.api.models import ApiToken
from app.api.tokens import issue_token
from app.auth.admins import (
    MIN_PASSWORD_LENGTH,
    AdminUserError,
    find_admin,
    set_admin_password,
)
from app.auth.models import EMAIL_MAX, EMAIL_MIN
from app.db.transactions import DbSession, run_in_transaction
from app.extensions import db


class ApiTokenView(SecureModelView):
    """Tokens: creating one shows it once (never stored, never put in a cookie);
    revoking takes effect on the next API request."""

    can_edit = False
    can_delete = False
    column_list = ("id", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    column_searchable_list = ("name", "prefix")
    column_filters = ("revoked_at", "last_used_at")
    column_default_sort = ("id", True)
    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
    form_columns = ("name",)
    form_overrides = {"name": StringField}
    form_args = {"name": {"validators": [InputRequired(), Length(1, 100)]}}

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """Create a token and show it on the response page itself, once."""
        form = self.create_form()
        if request.method == "POST" and self.validate_form(form):
            token, plain = run_in_transaction(
                db.session, lambda session: issue_token(session, form.name.data)
            )
            return self.render(
                "admin/token_created.html", name=form.name.data, token=plain, prefix=token.prefix
            )
        return self.render(
            self.create_template, form=form, form_opts=None, return_url=self.get_url(".index_view")
        )

    @action("revoke", "Revoke", "Revoke the selected tokens? Clients using them stop at once.")
    def action_revoke(self, ids):
        """Mark tokens revoked."""

        def revoke(session: DbSession) -> int:
            result = session.execute(
                update(ApiToken)
                .where(ApiToken.id.in_(integer_ids(ids)), ApiToken.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
            # An UPDATE without RETURNING answers with the cursor's result (its row count).
            assert isinstance(result, CursorResult)
            return result.rowcount

        count = run_in_transaction(db.session, revoke)
        flash(f"{count} token(s) revoked.", "success")


class AdminUserView(SecureModelView):
    """Admin users: passwords are set here but never shown."""

    column_list = ("id", "email", "created_at", "last_login_at")
    column_details_list = column_list
    column_searchable_list = ("email",)
    column_default_sort = ("id", False)
    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
    form_columns = ("email",)
    form_overrides = {"email": StringField}
    form_args = {"email": email_field_args(EMAIL_MIN, EMAIL_MAX)}

    def scaffold_form(self):
        form_class = super().scaffold_form()
        form_class.password = PasswordField(
            "Password",
            validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
            description=f"At least {MIN_PASSWORD_LENGTH} characters; leave empty to keep it.",
        )
        return form_class

    def create_model(self, form):
        if not form.password.data:
            flash("A new admin needs a password.", "error")
            return False
        if find_admin(db.session, form.email.data):
            flash(f"{form.email.data} is already an admin.", "error")
            return False
        try:
            return run_in_transaction(
                db.session,
                lambda session: set_admin_password(session, form.email.data, form.password.data)[0],
            )
        except AdminUserError as error:
            flash(str(error), "error")
            return False

    def on_model_change(self, form, model, is_created):
        if not is_created and form.password.data:
            model.set_password(form.password.data)

    def delete_model(self, model):
        if model.id == current_user.id:
            flash("You cannot delete your own account.", "error")
            return False
        return super().delete_model(model)
