# Raise KeyboardInterrupt at import.
raise KeyboardInterrupt
