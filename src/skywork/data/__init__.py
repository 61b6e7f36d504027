"""SkyPile-style data pipeline on datatrove (extraction, language ID, quality rules, dedup, accounting)."""
