"""The privacy rules as pure functions: what is kept of URLs, keys and user agents."""

from __future__ import annotations

import pytest

from flask_journey.privacy import describe_user_agent, is_sensitive_key, scrub_url, url_origin


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password2",
        "credit_card",
        "creditCardNumber",
        "cardNumber",
        "cvv",
        "CardCVC",
        "ssn",
        "user_ssn",
        "social_security_number",
        "api_key",
        "apiKey",
        "csrfToken",
        "pin",
        "iban",
        "passport_no",
        "tax_id",
        "otp",
    ],
)
def test_sensitive_keys_are_recognised(key):
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key", ["email", "plan", "shipping_address", "className", "author", "spinner", "step"]
)
def test_ordinary_keys_are_not_sensitive(key):
    assert not is_sensitive_key(key)


@pytest.mark.parametrize(
    "url, kept",
    [
        ("https://a.example/apply?email=jane@x.com&step=2", "https://a.example/apply?email=&step="),
        (
            "https://a.example/?utm_source=news&utm_campaign=spring&q=jane",
            "https://a.example/?utm_source=news&utm_campaign=spring&q=",
        ),
        ("https://user:pass@a.example/x", "https://a.example/x"),
        ("https://a.example/x?password=hunter2&plan=pro", "https://a.example/x?plan="),
        ("https://a.example/cb#access_token=abc&state=1", "https://a.example/cb#state="),
        ("https://a.example/#/step-2", "https://a.example/#/step-2"),
        ("https://a.example/#/review?name=Jane", "https://a.example/#/review?name="),
    ],
)
def test_urls_keep_no_query_values_or_credentials(url, kept):
    assert scrub_url(url) == kept


def test_query_values_can_be_kept_on_request():
    assert scrub_url("https://a.example/?plan=pro", keep_query_values=True) == (
        "https://a.example/?plan=pro"
    )


def test_origin_is_scheme_host_and_port_lowercased():
    assert url_origin("HTTPS://Grants.Example.com:8443/apply?x=1") == (
        "https://grants.example.com:8443"
    )
    assert url_origin("not a url") is None
    assert url_origin("null") is None


@pytest.mark.parametrize(
    "user_agent, device_class",
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36",
            "mobile",
        ),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15", "tablet"),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Safari/537.36",
            "tablet",
        ),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot"),
    ],
)
def test_user_agent_is_reduced_to_a_device_class(user_agent, device_class):
    assert describe_user_agent(user_agent).device_class == device_class


def test_no_user_agent_means_nothing_known():
    device = describe_user_agent(None)

    assert (device.device_class, device.browser, device.os) == (None, None, None)
