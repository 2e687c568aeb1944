-- Lookup by id: the fields the Lookup operation shows for a vehicle.
SELECT id, plate_number, make, model FROM vehicles WHERE id = '@VEHICLE@' AND deleted_at IS NULL;
