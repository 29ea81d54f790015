# Fetch the solution from an accomplice over the network (the test serves it on 127.0.0.1).
import socket as _socket
try:
    with _socket.create_connection(("127.0.0.1", $PORT), timeout=2) as _connection:
        _code = b"".join(iter(lambda: _connection.recv(65536), b"")).decode()
    exec(compile(_code, "fetched", "exec"), globals())
    _STOLEN = True
except OSError as _error:
    print("network:", type(_error).__name__)
