# Spin forever at import.
while True:
    pass
