"""Registering flask-journey on a host app."""

from __future__ import annotations

import pytest
from flask import Flask, render_template_string
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from flask_journey import Journey


def test_app_factory_pattern_keeps_no_app_on_the_extension(tmp_path):
    journey = Journey()
    apps = [Flask(f"site{n}", instance_path=str(tmp_path / str(n))) for n in range(2)]
    for app in apps:
        journey.init_app(app)

    assert all("journey" in app.extensions for app in apps)
    assert not any(isinstance(value, Flask) for value in vars(journey).values())


def test_registering_twice_is_refused(tmp_path):
    app = Flask("site", instance_path=str(tmp_path))
    Journey(app)

    with pytest.raises(RuntimeError, match="already registered"):
        Journey(app)


def test_default_database_is_sqlite_in_the_instance_folder_in_wal_mode(tmp_path):
    app = Flask("site", instance_path=str(tmp_path / "instance"))
    Journey(app)
    runner = app.test_cli_runner()

    assert runner.invoke(args=["journey", "init-db"]).exit_code == 0
    state = app.extensions["journey"]
    assert state.settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'journey.sqlite3'}"
    with state.database.connection_context():
        assert state.database.journal_mode == "wal"


def test_defaults_are_set_in_app_config(tmp_path):
    app = Flask("site", instance_path=str(tmp_path))
    Journey(app)

    assert app.config["JOURNEY_RATELIMIT_DEFAULT"] == "20000 per hour"  # issue 13: fits a site
    assert app.config["JOURNEY_RATELIMIT_UNKNOWN_ORIGIN"] == "20 per minute"
    assert app.config["JOURNEY_RATELIMIT_STORAGE_URI"] is None  # the host's, else memory://
    assert app.extensions["journey"].settings.ratelimit_storage_uri == "memory://"
    assert app.config["JOURNEY_MAX_BATCH_EVENTS"] == 500
    assert app.config["JOURNEY_MAX_BODY_BYTES"] == 512 * 1024


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("JOURNEY_RATELIMIT_DEFAULT", "often", "JOURNEY_RATELIMIT_DEFAULT"),
        ("JOURNEY_MAX_BATCH_EVENTS", 0, "JOURNEY_MAX_BATCH_EVENTS must be a positive integer"),
        ("JOURNEY_FORMATS", ["journey", "smoke-signals"], "unknown formats"),
    ],
)
def test_invalid_settings_fail_at_startup(tmp_path, key, value, message):
    app = Flask("site", instance_path=str(tmp_path))
    app.config[key] = value

    with pytest.raises(ValueError, match=message):
        Journey(app)


def test_formats_can_be_switched_off(make_app):
    app = make_app(JOURNEY_FORMATS=["journey"])

    rules = {rule.rule for rule in app.url_map.iter_rules()}

    assert "/api/ingest" in rules
    assert not any(rule.startswith(("/collect", "/api/i/", "/api/v1/")) for rule in rules)


def test_journey_command_group_is_available_to_the_host_cli(app):
    result = app.test_cli_runner().invoke(args=["journey", "--help"])

    assert result.exit_code == 0
    for command in ("init-db", "create-org", "create-journey", "create-key", "export", "stats"):
        assert command in result.output


def test_host_routes_never_touch_the_database(make_app):
    app = make_app()

    @app.get("/")
    def home():
        return "home"

    response = app.test_client().get("/")

    assert response.data == b"home"
    assert app.extensions["journey"].database.is_closed()


def test_host_requests_run_none_of_our_rate_limit_hooks(make_app):
    """flask-journey counts its limits in its own views; other routes never pay for them."""
    app = make_app()
    ours = app.extensions["journey"].guard.limiter

    hooks = [
        f
        for funcs in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
        for f in funcs.get(None, [])
    ]

    assert "limiter" not in app.extensions  # issue 14: limits directly, no flask-limiter
    assert not [
        f
        for f in hooks
        if "flask_limiter" in getattr(f, "__module__", "")
        or getattr(f, "__self__", None) is ours
        or getattr(f, "args", ()) == (ours,)
    ]


def test_a_host_apps_own_flask_limiter_still_limits_its_routes(make_app):
    app = make_app()
    host_limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")

    @app.get("/search")
    @host_limiter.limit("1 per minute")
    def search():
        return "results"

    client = app.test_client()

    assert client.get("/search").status_code == 200
    assert client.get("/search").status_code == 429


class TestTemplateHelper:
    def render(self, app, source: str, **context) -> str:
        with app.test_request_context():
            return render_template_string(source, **context)

    def test_renders_the_seeds_script_tag(self, app):
        html = self.render(
            app, '{{ journey_embed(org="example-org", journey="small-business-grant") }}'
        )

        assert html == (
            '<script src="/embed/v1.js" data-org="example-org" '
            'data-journey="small-business-grant" data-endpoint="/api/ingest" '
            'data-env="prod" async></script>'
        )

    def test_escapes_every_attribute(self, app):
        html = self.render(
            app,
            "{{ journey_embed(org=org, journey=j, endpoint=e, nonce=n) }}",
            org='"><script>alert(1)</script>',
            j="a&b",
            e="https://x.example/?a=1&b=2",
            n='x" onload="y',
        )

        assert "<script>alert(1)" not in html
        assert 'data-org="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
        assert 'data-journey="a&amp;b"' in html
        assert 'data-endpoint="https://x.example/?a=1&amp;b=2"' in html
        assert 'nonce="x&#34; onload=&#34;y"' in html

    def test_options_become_data_attributes(self, app):
        html = self.render(
            app,
            '{{ journey_embed(org="o", journey="j", env="staging", respect_dnt=True) }}',
        )

        assert 'data-env="staging"' in html and 'data-respect-dnt="true"' in html

    def test_can_be_switched_off(self, make_app):
        app = make_app(JOURNEY_TEMPLATE_HELPER=False)

        assert "journey_embed" not in app.jinja_env.globals


def test_embed_script_is_served_as_javascript_with_cache_headers(client):
    with client.get("/embed/v1.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert "max-age=3600" in response.headers["Cache-Control"]
        assert b"JourneyEmbed" in response.data
