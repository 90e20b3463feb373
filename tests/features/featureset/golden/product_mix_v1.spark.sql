WITH cutoffs AS (
  SELECT
    CAST(cutoff_day AS TIMESTAMP) AS cutoff
  FROM VALUES
    ('2024-02-01'),
    ('2024-03-01'),
    ('2024-04-01'),
    ('2024-05-01'),
    ('2024-06-01') AS calendar(cutoff_day)
), candidates AS (
  SELECT
    u.user_id,
    c.cutoff
  FROM users AS u
  CROSS JOIN cutoffs AS c
  WHERE
    u.signup_time < c.cutoff
), data_end AS (
  SELECT
    MAX(event_time) AS end_time
  FROM events
), cutoff_days AS (
  SELECT
    r.cutoff,
    CAST(DATE_ADD(CAST(r.cutoff AS DATE), o.day_offset) AS DATE) AS event_day,
    o.day_offset
  FROM cutoffs AS r
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
      (-90),
      (-89),
      (-88),
      (-87),
      (-86),
      (-85),
      (-84),
      (-83),
      (-82),
      (-81),
      (-80),
      (-79),
      (-78),
      (-77),
      (-76),
      (-75),
      (-74),
      (-73),
      (-72),
      (-71),
      (-70),
      (-69),
      (-68),
      (-67),
      (-66),
      (-65),
      (-64),
      (-63),
      (-62),
      (-61),
      (-60),
      (-59),
      (-58),
      (-57),
      (-56),
      (-55),
      (-54),
      (-53),
      (-52),
      (-51),
      (-50),
      (-49),
      (-48),
      (-47),
      (-46),
      (-45),
      (-44),
      (-43),
      (-42),
      (-41),
      (-40),
      (-39),
      (-38),
      (-37),
      (-36),
      (-35),
      (-34),
      (-33),
      (-32),
      (-31),
      (-30),
      (-29),
      (-28),
      (-27),
      (-26),
      (-25),
      (-24),
      (-23),
      (-22),
      (-21),
      (-20),
      (-19),
      (-18),
      (-17),
      (-16),
      (-15),
      (-14),
      (-13),
      (-12),
      (-11),
      (-10),
      (-9),
      (-8),
      (-7),
      (-6),
      (-5),
      (-4),
      (-3),
      (-2),
      (-1),
      (0),
      (1),
      (2),
      (3),
      (4),
      (5),
      (6),
      (7),
      (8),
      (9),
      (10),
      (11),
      (12),
      (13),
      (14),
      (15),
      (16),
      (17),
      (18),
      (19),
      (20),
      (21),
      (22),
      (23),
      (24),
      (25),
      (26),
      (27),
      (28),
      (29) AS span(day_offset)
  ) AS o
), windowed_events AS (
  SELECT
    e.user_id,
    e.event_time,
    e.event_date,
    e.event_type,
    e.session_id,
    e.item_id,
    e.value,
    e.area,
    r.cutoff,
    r.day_offset
  FROM events AS e
  JOIN cutoff_days AS r
    ON e.event_date = r.event_day AND (
      r.day_offset < 0 OR e.event_type = 'ORDER'
    )
), event_aggregates AS (
  SELECT
    e.user_id,
    e.cutoff,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'ORDER'
        THEN 1
      END
    ) AS count_ORDER_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -90 AND e.day_offset < 0
        ) AND e.event_type = 'ORDER'
        THEN 1
      END
    ) AS count_ORDER_90d,
    COUNT(
      CASE
        WHEN (
          (
            e.day_offset >= -90 AND e.day_offset < 0
          ) AND i.type = 'Coffee'
        )
        AND e.event_type = 'ORDER'
        THEN 1
      END
    ) AS count_item_type_Coffee_90d,
    COUNT(
      CASE
        WHEN (
          (
            e.day_offset >= -90 AND e.day_offset < 0
          ) AND i.type = 'Mugs'
        )
        AND e.event_type = 'ORDER'
        THEN 1
      END
    ) AS count_item_type_Mugs_90d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -90 AND e.day_offset < 0
        ) AND i.category = 'Home > Kitchen'
        THEN 1
      END
    ) AS count_item_category_kitchen_90d,
    AVG(
      CASE
        WHEN (
          e.day_offset >= -90 AND e.day_offset < 0
        ) AND e.event_type = 'ORDER'
        THEN CAST(i.price AS DOUBLE)
      END
    ) AS mean_item_price_90d,
    CASE
      WHEN COUNT(
        CASE
          WHEN (
            e.day_offset >= 0 AND e.day_offset < 30
          ) AND e.event_type = 'ORDER'
          THEN 1
        END
      ) > 0
      THEN 1
      ELSE 0
    END AS label
  FROM windowed_events AS e
  LEFT JOIN items AS i
    ON i.item_id = e.item_id
    AND (
      i.valid_from IS NULL OR e.event_time >= i.valid_from
    )
    AND (
      i.valid_to IS NULL OR e.event_time < i.valid_to
    )
  GROUP BY
    e.user_id,
    e.cutoff
), aggregates AS (
  SELECT
    r.user_id,
    r.cutoff,
    COALESCE(a.count_ORDER_30d, 0) AS count_ORDER_30d,
    COALESCE(a.count_ORDER_90d, 0) AS count_ORDER_90d,
    COALESCE(a.count_item_type_Coffee_90d, 0) AS count_item_type_Coffee_90d,
    COALESCE(a.count_item_type_Mugs_90d, 0) AS count_item_type_Mugs_90d,
    COALESCE(a.count_item_category_kitchen_90d, 0) AS count_item_category_kitchen_90d,
    a.mean_item_price_90d AS mean_item_price_90d,
    COALESCE(a.label, 0) AS label
  FROM candidates AS r
  LEFT JOIN event_aggregates AS a
    ON a.user_id = r.user_id AND a.cutoff = r.cutoff
), past_slots AS (
  SELECT
    user_id,
    CAST(CASE
      WHEN last_event_day < CAST('2024-02-01' AS DATE)
      THEN CAST('2024-02-01' AS DATE)
      ELSE CAST(ADD_MONTHS(TRUNC(last_event_day, 'MONTH'), 1) AS DATE)
    END AS TIMESTAMP) AS slot,
    last_event_day
  FROM (
    SELECT
      user_id,
      YEAR(event_date) * 12 + MONTH(event_date) AS period,
      MAX(event_date) AS last_event_day
    FROM events
    WHERE
      event_date < CAST('2024-06-01' AS DATE)
    GROUP BY
      user_id,
      period
  ) AS periods
), history AS (
  SELECT
    r.user_id,
    r.cutoff,
    DATEDIFF(DAY, CAST(MAX(p.last_event_day) AS DATE), CAST(r.cutoff AS DATE)) AS days_since_last_event
  FROM candidates AS r
  LEFT JOIN past_slots AS p
    ON p.user_id = r.user_id AND p.slot <= r.cutoff
  GROUP BY
    r.user_id,
    r.cutoff
), combined AS (
  SELECT
    w.*,
    h.days_since_last_event AS days_since_last_event
  FROM aggregates AS w
  LEFT JOIN history AS h
    ON h.user_id = w.user_id AND h.cutoff = w.cutoff
), statuses AS (
  SELECT
    *,
    CASE
      WHEN (
        a.cutoff + INTERVAL '30' DAY
      ) > d.end_time
      THEN 'censored'
      ELSE 'kept'
    END AS status
  FROM combined AS a
  CROSS JOIN data_end AS d
)
SELECT
  s.user_id,
  s.cutoff,
  s.label AS label,
  s.count_ORDER_30d AS count_ORDER_30d,
  s.count_ORDER_90d AS count_ORDER_90d,
  s.count_item_type_Coffee_90d AS count_item_type_Coffee_90d,
  s.count_item_type_Mugs_90d AS count_item_type_Mugs_90d,
  s.count_item_category_kitchen_90d AS count_item_category_kitchen_90d,
  s.mean_item_price_90d AS mean_item_price_90d,
  s.days_since_last_event AS days_since_last_event,
  s.status AS status,
  s.end_time AS end_of_data
FROM statuses AS s
JOIN users AS u
  ON u.user_id = s.user_id
ORDER BY
  s.cutoff,
  s.user_id
