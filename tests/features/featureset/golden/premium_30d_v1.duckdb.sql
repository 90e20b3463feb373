WITH cutoffs AS (
  SELECT
    CAST(cutoff_day AS TIMESTAMP) AS cutoff
  FROM (VALUES
    ('2024-02-01'),
    ('2024-03-01'),
    ('2024-04-01'),
    ('2024-05-01'),
    ('2024-06-01')) AS calendar(cutoff_day)
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
    CAST(CAST(r.cutoff AS DATE) + INTERVAL (o.day_offset) DAY AS DATE) AS event_day,
    o.day_offset
  FROM cutoffs AS r
  CROSS JOIN (
    SELECT
      *
    FROM (VALUES
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
      (29)) AS span(day_offset)
  ) AS o
), windowed_events AS NOT MATERIALIZED (
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
    ON e.event_date = r.event_day
    AND (
      r.day_offset < 0 OR e.event_type = 'BUY_PREMIUM'
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
      CASE
        WHEN (
          e.day_offset >= -7 AND e.day_offset < 0
        ) AND e.event_type = 'SKIP'
        THEN 1
      END
    ) AS count_SKIP_7d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'SKIP'
        THEN 1
      END
    ) AS count_SKIP_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -7 AND e.day_offset < 0
        ) AND e.event_type = 'LIKE'
        THEN 1
      END
    ) AS count_LIKE_7d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'LIKE'
        THEN 1
      END
    ) AS count_LIKE_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -7 AND e.day_offset < 0
        ) AND e.event_type = 'ADVERTISEMENT'
        THEN 1
      END
    ) AS count_ADVERTISEMENT_7d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'ADVERTISEMENT'
        THEN 1
      END
    ) AS count_ADVERTISEMENT_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -7 AND e.day_offset < 0
        ) AND e.event_type = 'LOGIN'
        THEN 1
      END
    ) AS count_LOGIN_7d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'LOGIN'
        THEN 1
      END
    ) AS count_LOGIN_30d,
    COALESCE(
      BIT_COUNT(
        BIT_OR(
          CASE
            WHEN e.day_offset >= -7 AND e.day_offset < 0
            THEN CAST(1 AS BIGINT) << CAST(-e.day_offset AS INT)
          END
        )
      ),
      0
    ) AS active_days_7d,
    COALESCE(
      BIT_COUNT(
        BIT_OR(
          CASE
            WHEN e.day_offset >= -30 AND e.day_offset < 0
            THEN CAST(1 AS BIGINT) << CAST(-e.day_offset AS INT)
          END
        )
      ),
      0
    ) AS active_days_30d,
    COALESCE(
      SUM(
        CASE
          WHEN (
            e.day_offset >= -30 AND e.day_offset < 0
          ) AND e.event_type = 'PLAY'
          THEN e.value
        END
      ),
      CAST(0 AS DOUBLE)
    ) AS value_sum_PLAY_30d,
    CAST(COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'SKIP'
        THEN 1
      END
    ) AS DOUBLE) / NULLIF(
      CAST(COUNT(
        CASE
          WHEN (
            e.day_offset >= -30 AND e.day_offset < 0
          ) AND e.event_type = 'PLAY'
          THEN 1
        END
      ) AS DOUBLE),
      0
    ) AS ratio_SKIP_per_PLAY_30d,
    CAST(COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'ADVERTISEMENT'
        THEN 1
      END
    ) AS DOUBLE) / NULLIF(
      CAST(COUNT(
        CASE
          WHEN (
            e.day_offset >= -30 AND e.day_offset < 0
          ) AND e.event_type = 'PLAY'
          THEN 1
        END
      ) AS DOUBLE),
      0
    ) AS ratio_ADVERTISEMENT_per_PLAY_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.area = 'home'
        THEN 1
      END
    ) AS area_home_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.area = 'search'
        THEN 1
      END
    ) AS area_search_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.area = 'playlist'
        THEN 1
      END
    ) AS area_playlist_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.area = 'radio'
        THEN 1
      END
    ) AS area_radio_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.area = 'browse'
        THEN 1
      END
    ) AS area_browse_30d,
    COUNT(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.area = 'settings'
        THEN 1
      END
    ) AS area_settings_30d,
    AVG(
      CASE
        WHEN (
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'PLAY'
        THEN CAST(i.popularity AS DOUBLE)
      END
    ) AS mean_item_popularity_30d,
    CASE
      WHEN COUNT(
        CASE
          WHEN (
            e.day_offset >= 0 AND e.day_offset < 30
          ) AND e.event_type = 'BUY_PREMIUM'
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
    COALESCE(a.count_PLAY_7d, 0) AS count_PLAY_7d,
    COALESCE(a.count_PLAY_30d, 0) AS count_PLAY_30d,
    COALESCE(a.count_SKIP_7d, 0) AS count_SKIP_7d,
    COALESCE(a.count_SKIP_30d, 0) AS count_SKIP_30d,
    COALESCE(a.count_LIKE_7d, 0) AS count_LIKE_7d,
    COALESCE(a.count_LIKE_30d, 0) AS count_LIKE_30d,
    COALESCE(a.count_ADVERTISEMENT_7d, 0) AS count_ADVERTISEMENT_7d,
    COALESCE(a.count_ADVERTISEMENT_30d, 0) AS count_ADVERTISEMENT_30d,
    COALESCE(a.count_LOGIN_7d, 0) AS count_LOGIN_7d,
    COALESCE(a.count_LOGIN_30d, 0) AS count_LOGIN_30d,
    COALESCE(a.active_days_7d, 0) AS active_days_7d,
    COALESCE(a.active_days_30d, 0) AS active_days_30d,
    COALESCE(a.value_sum_PLAY_30d, CAST(0.0 AS DOUBLE)) AS value_sum_PLAY_30d,
    a.ratio_SKIP_per_PLAY_30d AS ratio_SKIP_per_PLAY_30d,
    a.ratio_ADVERTISEMENT_per_PLAY_30d AS ratio_ADVERTISEMENT_per_PLAY_30d,
    COALESCE(a.area_home_30d, 0) AS area_home_30d,
    COALESCE(a.area_search_30d, 0) AS area_search_30d,
    COALESCE(a.area_playlist_30d, 0) AS area_playlist_30d,
    COALESCE(a.area_radio_30d, 0) AS area_radio_30d,
    COALESCE(a.area_browse_30d, 0) AS area_browse_30d,
    COALESCE(a.area_settings_30d, 0) AS area_settings_30d,
    a.mean_item_popularity_30d AS mean_item_popularity_30d,
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
      ELSE CAST(DATE_TRUNC('MONTH', last_event_day) + INTERVAL 1 MONTH AS DATE)
    END AS TIMESTAMP) AS slot,
    last_event_day,
    last_day_PLAY,
    last_day_BUY_PREMIUM
  FROM (
    SELECT
      user_id,
      YEAR(event_date) * 12 + MONTH(event_date) AS period,
      MAX(event_date) AS last_event_day,
      MAX(CASE WHEN event_type = 'PLAY' THEN event_date END) AS last_day_PLAY,
      MAX(CASE WHEN event_type = 'BUY_PREMIUM' THEN event_date END) AS last_day_BUY_PREMIUM
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
    DATE_DIFF('DAY', CAST(MAX(p.last_event_day) AS DATE), CAST(r.cutoff AS DATE)) AS days_since_last_event,
    DATE_DIFF('DAY', CAST(MAX(p.last_day_PLAY) AS DATE), CAST(r.cutoff AS DATE)) AS days_since_last_PLAY,
    CASE WHEN NOT MAX(p.last_day_BUY_PREMIUM) IS NULL THEN 1 ELSE 0 END AS has_converted
  FROM candidates AS r
  LEFT JOIN past_slots AS p
    ON p.user_id = r.user_id AND p.slot <= r.cutoff
  GROUP BY
    r.user_id,
    r.cutoff
), session_flags AS (
  SELECT
    user_id,
    cutoff,
    session_id,
    MAX(CASE WHEN e.day_offset >= -7 AND e.day_offset < 0 THEN 1 ELSE 0 END) AS sessions_7d,
    MAX(CASE WHEN e.day_offset >= -30 AND e.day_offset < 0 THEN 1 ELSE 0 END) AS sessions_30d
  FROM windowed_events AS e
  WHERE
    NOT session_id IS NULL
  GROUP BY
    user_id,
    cutoff,
    session_id
), session_counts AS (
  SELECT
    user_id,
    cutoff,
    SUM(sessions_7d) AS sessions_7d,
    SUM(sessions_30d) AS sessions_30d
  FROM session_flags
  GROUP BY
    user_id,
    cutoff
), combined AS (
  SELECT
    w.*,
    h.days_since_last_event AS days_since_last_event,
    h.days_since_last_PLAY AS days_since_last_PLAY,
    h.has_converted AS has_converted,
    CAST(COALESCE(sc.sessions_7d, 0) AS BIGINT) AS sessions_7d,
    CAST(COALESCE(sc.sessions_30d, 0) AS BIGINT) AS sessions_30d
  FROM aggregates AS w
  LEFT JOIN history AS h
    ON h.user_id = w.user_id AND h.cutoff = w.cutoff
  LEFT JOIN session_counts AS sc
    ON sc.user_id = w.user_id AND sc.cutoff = w.cutoff
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
  s.count_SKIP_7d AS count_SKIP_7d,
  s.count_SKIP_30d AS count_SKIP_30d,
  s.count_LIKE_7d AS count_LIKE_7d,
  s.count_LIKE_30d AS count_LIKE_30d,
  s.count_ADVERTISEMENT_7d AS count_ADVERTISEMENT_7d,
  s.count_ADVERTISEMENT_30d AS count_ADVERTISEMENT_30d,
  s.count_LOGIN_7d AS count_LOGIN_7d,
  s.count_LOGIN_30d AS count_LOGIN_30d,
  s.active_days_7d AS active_days_7d,
  s.active_days_30d AS active_days_30d,
  s.sessions_7d AS sessions_7d,
  s.sessions_30d AS sessions_30d,
  s.days_since_last_event AS days_since_last_event,
  s.days_since_last_PLAY AS days_since_last_PLAY,
  DATE_DIFF('DAY', CAST(u.signup_time AS DATE), CAST(s.cutoff AS DATE)) AS tenure_days,
  s.value_sum_PLAY_30d AS value_sum_PLAY_30d,
  s.ratio_SKIP_per_PLAY_30d AS ratio_SKIP_per_PLAY_30d,
  s.ratio_ADVERTISEMENT_per_PLAY_30d AS ratio_ADVERTISEMENT_per_PLAY_30d,
  s.area_home_30d AS area_home_30d,
  s.area_search_30d AS area_search_30d,
  s.area_playlist_30d AS area_playlist_30d,
  s.area_radio_30d AS area_radio_30d,
  s.area_browse_30d AS area_browse_30d,
  s.area_settings_30d AS area_settings_30d,
  s.mean_item_popularity_30d AS mean_item_popularity_30d,
  u.channel AS channel,
  u.city AS city,
  u.age AS age,
  s.status AS status,
  s.end_time AS end_of_data
FROM statuses AS s
JOIN users AS u
  ON u.user_id = s.user_id
ORDER BY
  s.cutoff,
  s.user_id
