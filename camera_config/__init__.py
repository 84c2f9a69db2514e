"""Site model: street → community → property company → compound, grids, people, cameras, zones."""
