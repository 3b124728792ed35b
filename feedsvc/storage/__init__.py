"""Where state lives: the engine and sessions, the schema, the stored-document codec, migrations."""
