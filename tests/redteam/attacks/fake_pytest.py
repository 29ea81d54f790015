# (the attack is the pytest.py the driver adds beside the module, found first if the folder leads sys.path)
