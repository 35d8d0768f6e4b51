// A library whose initialiser crashes as soon as it is loaded.
int crashes_on_load_marker(void);
