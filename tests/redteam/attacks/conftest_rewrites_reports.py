# (the attack is the conftest.py the driver adds beside the module: it turns every report into a pass)
