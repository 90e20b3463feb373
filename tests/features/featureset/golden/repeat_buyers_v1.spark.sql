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
      r.day_offset < 0 OR e.event_type = 'BUY'
    )
), event_aggregates AS (
  SELECT
    e.user_id,
    e.cutoff,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'BUY'
        THEN 1
      END
    ) AS count_BUY_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -90 AND e.day_offset < 0
        ) AND e.event_type = 'BUY'
        THEN 1
      END
    ) AS count_BUY_90d,
    CAST(COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'BUY'
        THEN 1
      END
    ) + 1 AS DOUBLE) / CAST(COUNT(
      CASE
        WHEN (
          e.day_offset >= -60 AND e.day_offset < -30
        ) AND e.event_type = 'BUY'
        THEN 1
      END
    ) + 1 AS DOUBLE) AS trend_BUY_30d,
    COUNT(
      DISTINCT CASE
        WHEN (
          e.day_offset >= -90 AND e.day_offset < 0
        )
        AND NOT e.event_type = 'EXPERIMENT_ASSIGNED'
        THEN e.item_id
      END
    ) AS distinct_items_90d,
    COUNT(
      DISTINCT CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'BUY'
        THEN e.item_id
      END
    ) AS distinct_items_BUY_30d,
    AVG(
      CASE
        WHEN (
          e.day_offset >= -90 AND e.day_offset < 0
        ) AND e.event_type = 'BUY'
        THEN COALESCE(e.value, CAST(0 AS DOUBLE))
      END
    ) AS value_mean_BUY_90d,
    CASE
      WHEN COUNT(
        CASE
          WHEN (
            e.day_offset >= 0 AND e.day_offset < 30
          ) AND e.event_type = 'BUY'
          THEN 1
        END
      ) > 0
      THEN 1
      ELSE 0
    END AS label
  FROM windowed_events AS e
  GROUP BY
    e.user_id,
    e.cutoff
), aggregates AS (
  SELECT
    r.user_id,
    r.cutoff,
    COALESCE(a.count_BUY_30d, 0) AS count_BUY_30d,
    COALESCE(a.count_BUY_90d, 0) AS count_BUY_90d,
    COALESCE(a.trend_BUY_30d, CAST(1.0 AS DOUBLE)) AS trend_BUY_30d,
    COALESCE(a.distinct_items_90d, 0) AS distinct_items_90d,
    COALESCE(a.distinct_items_BUY_30d, 0) AS distinct_items_BUY_30d,
    a.value_mean_BUY_90d AS value_mean_BUY_90d,
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
    last_event_day,
    last_day_BUY
  FROM (
    SELECT
      user_id,
      YEAR(event_date) * 12 + MONTH(event_date) AS period,
      MAX(event_date) AS last_event_day,
      MAX(CASE WHEN event_type = 'BUY' THEN event_date END) AS last_day_BUY
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
    DATEDIFF(DAY, CAST(MAX(p.last_day_BUY) AS DATE), CAST(r.cutoff AS DATE)) AS days_since_last_BUY
  FROM candidates AS r
  LEFT JOIN past_slots AS p
    ON p.user_id = r.user_id AND p.slot <= r.cutoff
  GROUP BY
    r.user_id,
    r.cutoff
), type_days AS (
  SELECT
    user_id,
    event_type,
    event_day,
    first_time,
    LEAD(first_time) OVER (PARTITION BY user_id, event_type ORDER BY event_day NULLS LAST) AS next_time,
    DATEDIFF(
      DAY,
      LAG(event_day) OVER (PARTITION BY user_id, event_type ORDER BY event_day NULLS LAST),
      event_day
    ) AS last_gap,
    DATEDIFF(DAY, MIN(event_day) OVER (PARTITION BY user_id, event_type), event_day) AS span_days,
    ROW_NUMBER() OVER (PARTITION BY user_id, event_type ORDER BY event_day NULLS LAST) - 1 AS gap_count
  FROM (
    SELECT
      user_id,
      event_type,
      event_date AS event_day,
      MIN(event_time) AS first_time
    FROM events
    WHERE
      event_type IN ('BUY')
    GROUP BY
      user_id,
      event_type,
      event_date
  ) AS per_day
), gaps AS (
  SELECT
    r.user_id,
    r.cutoff,
    MAX(
      CASE
        WHEN g.event_type = 'BUY'
        THEN CAST(g.span_days AS DOUBLE) / NULLIF(g.gap_count, 0)
      END
    ) AS mean_gap_days_BUY,
    MAX(CASE WHEN g.event_type = 'BUY' THEN g.last_gap END) AS last_gap_days_BUY,
    MAX(
      CASE
        WHEN g.event_type = 'BUY'
        THEN CAST(DATEDIFF(DAY, g.event_day, CAST(r.cutoff AS DATE)) * g.gap_count AS DOUBLE) / NULLIF(g.span_days, 0)
      END
    ) AS days_since_last_per_mean_gap_BUY
  FROM candidates AS r
  LEFT JOIN type_days AS g
    ON g.user_id = r.user_id
    AND g.first_time < r.cutoff
    AND (
      g.next_time IS NULL OR g.next_time >= r.cutoff
    )
  GROUP BY
    r.user_id,
    r.cutoff
), combined AS (
  SELECT
    w.*,
    h.days_since_last_BUY AS days_since_last_BUY,
    gp.mean_gap_days_BUY AS mean_gap_days_BUY,
    gp.last_gap_days_BUY AS last_gap_days_BUY,
    gp.days_since_last_per_mean_gap_BUY AS days_since_last_per_mean_gap_BUY
  FROM aggregates AS w
  LEFT JOIN history AS h
    ON h.user_id = w.user_id AND h.cutoff = w.cutoff
  LEFT JOIN gaps AS gp
    ON gp.user_id = w.user_id AND gp.cutoff = w.cutoff
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
  s.count_BUY_30d AS count_BUY_30d,
  s.count_BUY_90d AS count_BUY_90d,
  s.days_since_last_BUY AS days_since_last_BUY,
  s.mean_gap_days_BUY AS mean_gap_days_BUY,
  s.last_gap_days_BUY AS last_gap_days_BUY,
  s.days_since_last_per_mean_gap_BUY AS days_since_last_per_mean_gap_BUY,
  s.trend_BUY_30d AS trend_BUY_30d,
  s.distinct_items_90d AS distinct_items_90d,
  s.distinct_items_BUY_30d AS distinct_items_BUY_30d,
  s.value_mean_BUY_90d AS value_mean_BUY_90d,
  s.status AS status,
  s.end_time AS end_of_data
FROM statuses AS s
JOIN users AS u
  ON u.user_id = s.user_id
ORDER BY
  s.cutoff,
  s.user_id
