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
      r.day_offset < 0 OR e.event_type = 'UPGRADE'
    )
), event_aggregates AS (
  SELECT
    e.user_id,
    e.cutoff,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -7 AND e.day_offset < 0
        ) AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_7d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_30d,
    COUNT(
      DISTINCT CASE
        WHEN (
          e.day_offset >= -7 AND e.day_offset < 0
        )
        AND NOT e.event_type = 'EXPERIMENT_ASSIGNED'
        THEN e.area
      END
    ) AS distinct_areas_7d,
    COUNT(
      DISTINCT CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        )
        AND NOT e.event_type = 'EXPERIMENT_ASSIGNED'
        THEN e.area
      END
    ) AS distinct_areas_30d,
    COUNT(
      DISTINCT CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'PLAY'
        THEN e.area
      END
    ) AS distinct_areas_PLAY_30d,
    CASE
      WHEN COUNT(
        CASE
          WHEN (
            e.day_offset >= 0 AND e.day_offset < 30
          ) AND e.event_type = 'UPGRADE'
          THEN 1
        END
      ) > 0
      THEN 1
      ELSE 0
    END AS label,
    CASE
      WHEN COUNT(CASE WHEN e.day_offset >= -30 AND e.day_offset < 0 THEN 1 END) > 0
      THEN 1
      ELSE 0
    END AS is_active
  FROM windowed_events AS e
  GROUP BY
    e.user_id,
    e.cutoff
), aggregates AS (
  SELECT
    r.user_id,
    r.cutoff,
    COALESCE(a.count_PLAY_7d, 0) AS count_PLAY_7d,
    COALESCE(a.count_PLAY_30d, 0) AS count_PLAY_30d,
    COALESCE(a.distinct_areas_7d, 0) AS distinct_areas_7d,
    COALESCE(a.distinct_areas_30d, 0) AS distinct_areas_30d,
    COALESCE(a.distinct_areas_PLAY_30d, 0) AS distinct_areas_PLAY_30d,
    COALESCE(a.label, 0) AS label,
    COALESCE(a.is_active, 0) AS is_active
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
    last_event_day,
    last_day_UPGRADE
  FROM (
    SELECT
      user_id,
      YEAR(event_date) * 12 + MONTH(event_date) AS period,
      MAX(event_date) AS last_event_day,
      MAX(CASE WHEN event_type = 'UPGRADE' THEN event_date END) AS last_day_UPGRADE
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
    DATEDIFF(DAY, CAST(MAX(p.last_event_day) AS DATE), CAST(r.cutoff AS DATE)) AS days_since_last_event,
    CASE WHEN NOT MAX(p.last_day_UPGRADE) IS NULL THEN 1 ELSE 0 END AS has_converted
  FROM candidates AS r
  LEFT JOIN past_slots AS p
    ON p.user_id = r.user_id AND p.slot <= r.cutoff
  GROUP BY
    r.user_id,
    r.cutoff
), combined AS (
  SELECT
    w.*,
    h.days_since_last_event AS days_since_last_event,
    h.has_converted AS has_converted
  FROM aggregates AS w
  LEFT JOIN history AS h
    ON h.user_id = w.user_id AND h.cutoff = w.cutoff
), statuses AS (
  SELECT
    *,
    CASE
      WHEN is_active = 0
      THEN 'inactive'
      WHEN has_converted = 1
      THEN 'converted'
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
  s.count_PLAY_7d AS count_PLAY_7d,
  s.count_PLAY_30d AS count_PLAY_30d,
  s.distinct_areas_7d AS distinct_areas_7d,
  s.distinct_areas_30d AS distinct_areas_30d,
  s.distinct_areas_PLAY_30d AS distinct_areas_PLAY_30d,
  s.days_since_last_event AS days_since_last_event,
  s.status AS status,
  s.end_time AS end_of_data
FROM statuses AS s
JOIN users AS u
  ON u.user_id = s.user_id
ORDER BY
  s.cutoff,
  s.user_id
