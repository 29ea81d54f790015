# (the driver adds an assignment.json claiming 1000 points for a trivial task, and a folder with another)
