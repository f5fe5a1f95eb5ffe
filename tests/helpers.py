"""What tests share besides fixtures: the seed's tenant, and building and posting its batches."""

from __future__ import annotations

ORG = "example-org"
JOURNEY = "small-business-grant"
ORIGIN = "https://grants.example.com"
