"""Geography: coordinate systems, the local metric projection, spatial hashing, admin units."""
