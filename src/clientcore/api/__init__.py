"""The HTTP application: one router per capability, each thin (parse, call, format)."""
