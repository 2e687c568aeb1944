-- The work-order board as one hand-written query: the open orders of a location, newest change first,
-- with customer, vehicle and mechanics, plus the total count.
SELECT wo.id, wo.number, wo.status, wo.complaint, wo.promised_at, wo.updated_at, wo.total_minor,
       c.id AS customer_id, c.name AS customer_name,
       v.id AS vehicle_id, v.make, v.model, v.plate_number,
       (SELECT json_agg(json_build_object('id', u.id, 'name', u.name))
          FROM work_order_mechanics m JOIN users u ON u.id = m.user_id
         WHERE m.work_order_id = wo.id) AS mechanics,
       (SELECT count(*) FROM work_orders x
         WHERE x.deleted_at IS NULL AND x.location_id = '@LOCATION@'
           AND x.status IN ('draft','estimate','awaiting_approval','approved','in_progress','ready')) AS total_count
  FROM work_orders wo
  JOIN customers c ON c.id = wo.customer_id
  JOIN vehicles v ON v.id = wo.vehicle_id
 WHERE wo.deleted_at IS NULL AND wo.location_id = '@LOCATION@'
   AND wo.status IN ('draft','estimate','awaiting_approval','approved','in_progress','ready')
 ORDER BY wo.updated_at DESC, wo.id DESC
 LIMIT 51;
