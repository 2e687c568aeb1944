-- The customer card as one hand-written query: the customer, vehicles, ten newest work orders,
-- five newest invoices and the balance due.
SELECT c.id, c.kind, c.name, c.phones, c.emails, c.notes, c.marketing_consent, c.version,
       l.id AS location_id, l.name AS location_name,
       (SELECT json_agg(json_build_object('id', v.id, 'vin', v.vin, 'plate', v.plate_number, 'make', v.make,
                                          'model', v.model, 'year', v.year, 'odometer', v.odometer_km) ORDER BY v.created_at)
          FROM vehicles v WHERE v.customer_id = c.id AND v.deleted_at IS NULL) AS vehicles,
       (SELECT json_agg(w) FROM (
          SELECT wo.id, wo.number, wo.status, wo.created_at, wo.total_minor, v.id AS vehicle_id, v.plate_number
            FROM work_orders wo JOIN vehicles v ON v.id = wo.vehicle_id
           WHERE wo.customer_id = c.id AND wo.deleted_at IS NULL
           ORDER BY wo.created_at DESC, wo.id DESC LIMIT 10) w) AS recent_work_orders,
       (SELECT json_agg(i) FROM (
          SELECT id, number, status, total_minor, total_minor - paid_minor AS balance, issued_at
            FROM invoices WHERE customer_id = c.id AND deleted_at IS NULL
           ORDER BY created_at DESC, id DESC LIMIT 5) i) AS recent_invoices,
       (SELECT COALESCE(SUM(total_minor - paid_minor), 0) FROM invoices
         WHERE customer_id = c.id AND status IN ('issued','partially_paid') AND deleted_at IS NULL) AS balance_due
  FROM customers c LEFT JOIN locations l ON l.id = c.home_location_id
 WHERE c.id = '@CUSTOMER@' AND c.deleted_at IS NULL;
