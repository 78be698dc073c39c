"""The dashboard: pages of charts over what the product writes, in English and Vietnamese."""
