"""The admin's views, one blueprint per area."""
