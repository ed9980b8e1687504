"""Open311 GeoReport v2, JSON and XML, with the paging, updated_* and FixMyStreet update extensions."""
