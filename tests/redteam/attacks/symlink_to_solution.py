# (the driver makes the submitted module a symlink to the instructor's solution)
