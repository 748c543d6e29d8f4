"""Provider wire formats the loopback stub server speaks, one module per provider.

Each module exposes ``WIRE``, an object following :class:`tests.support.openai_server.Wire`:
it owns some request paths, turns the provider's request into an OpenAI-format one for the
stub's scripted answers, and renders the answer (plain or streamed) and errors back in the
provider's documented format.
"""
