"""Reference implementations and stored reference numbers that emkit's oracle tests compare to."""
