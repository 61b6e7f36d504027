"""Small shared helpers: atomic file writes, JSONL reading with located errors, validated YAML configs."""
