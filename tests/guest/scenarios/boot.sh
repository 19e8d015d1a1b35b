# Boot-time run of the bench: nothing to do, /init powers off at once.  (The
# boot timer write at the top of /init is the measurement.)
:
