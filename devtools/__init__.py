"""Development tools shared by tests/ and bench/: real processes, a form-filling browser, nginx."""
