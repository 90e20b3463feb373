WITH candidates AS (
  SELECT
    u.user_id,
    (
      u.signup_time + INTERVAL '14' DAY
    ) AS cutoff
  FROM users AS u
), data_end AS (
  SELECT
    MAX(event_time) AS end_time
  FROM events
), aggregates AS (
  SELECT
    r.user_id,
    r.cutoff,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '7' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_7d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '7' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'SKIP'
        THEN 1
      END
    ) AS count_SKIP_7d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'SKIP'
        THEN 1
      END
    ) AS count_SKIP_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '7' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'LIKE'
        THEN 1
      END
    ) AS count_LIKE_7d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'LIKE'
        THEN 1
      END
    ) AS count_LIKE_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '7' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'ADVERTISEMENT'
        THEN 1
      END
    ) AS count_ADVERTISEMENT_7d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'ADVERTISEMENT'
        THEN 1
      END
    ) AS count_ADVERTISEMENT_14d,
    COALESCE(
      BIT_COUNT(
        BIT_OR(
          CASE
            WHEN e.event_time >= (
              r.cutoff - INTERVAL '7' DAY
            ) AND e.event_time < r.cutoff
            THEN SHIFTLEFT(
              CAST(1 AS BIGINT),
              CAST(DATEDIFF(DAY, e.event_date, CAST(r.cutoff AS DATE)) AS INT)
            )
          END
        )
      ),
      0
    ) AS active_days_7d,
    COALESCE(
      BIT_COUNT(
        BIT_OR(
          CASE
            WHEN e.event_time >= (
              r.cutoff - INTERVAL '14' DAY
            ) AND e.event_time < r.cutoff
            THEN SHIFTLEFT(
              CAST(1 AS BIGINT),
              CAST(DATEDIFF(DAY, e.event_date, CAST(r.cutoff AS DATE)) AS INT)
            )
          END
        )
      ),
      0
    ) AS active_days_14d,
    COUNT(
      DISTINCT CASE
        WHEN e.event_time >= (
          r.cutoff - INTERVAL '14' DAY
        ) AND e.event_time < r.cutoff
        THEN e.session_id
      END
    ) AS sessions_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.area = 'home'
        THEN 1
      END
    ) AS area_home_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.area = 'search'
        THEN 1
      END
    ) AS area_search_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.area = 'playlist'
        THEN 1
      END
    ) AS area_playlist_14d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.area = 'radio'
        THEN 1
      END
    ) AS area_radio_14d,
    AVG(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'PLAY'
        THEN CAST(i.popularity AS DOUBLE)
      END
    ) AS mean_item_popularity_14d
  FROM candidates AS r
  LEFT JOIN events AS e
    ON e.user_id = r.user_id
    AND (
      e.event_time >= (
        r.cutoff - INTERVAL '14' DAY
      )
      AND e.event_time < (
        r.cutoff + INTERVAL '60' DAY
      )
    )
  LEFT JOIN items AS i
    ON i.item_id = e.item_id
    AND (
      i.valid_from IS NULL OR e.event_time >= i.valid_from
    )
    AND (
      i.valid_to IS NULL OR e.event_time < i.valid_to
    )
  GROUP BY
    r.user_id,
    r.cutoff
), past_days AS (
  SELECT
    user_id,
    event_date AS event_day,
    MIN(event_time) AS first_time
  FROM events
  GROUP BY
    user_id,
    event_date
), history AS (
  SELECT
    r.user_id,
    r.cutoff,
    DATEDIFF(
      DAY,
      CAST(MAX(CASE WHEN p.first_time < r.cutoff THEN p.event_day END) AS DATE),
      CAST(r.cutoff AS DATE)
    ) AS days_since_last_event
  FROM candidates AS r
  LEFT JOIN past_days AS p
    ON p.user_id = r.user_id AND p.first_time < r.cutoff
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
        a.cutoff + INTERVAL '60' DAY
      ) > d.end_time
      THEN 'censored'
      ELSE 'kept'
    END AS status
  FROM combined AS a
  CROSS JOIN data_end AS d
), kept AS (
  SELECT
    *
  FROM statuses
  WHERE
    status = 'kept'
), label_masks AS (
  SELECT
    r.user_id,
    r.cutoff,
    BIT_OR(
      SHIFTLEFT(
        CAST(1 AS BIGINT),
        CAST(DATEDIFF(DAY, CAST(r.cutoff AS DATE), e.event_date) AS INT)
      )
    ) AS day_mask
  FROM kept AS r
  JOIN events AS e
    ON e.user_id = r.user_id
    AND (
      e.event_time >= r.cutoff AND e.event_time < (
        r.cutoff + INTERVAL '60' DAY
      )
    )
  GROUP BY
    r.user_id,
    r.cutoff
), label_hits AS (
  SELECT
    m.user_id,
    m.cutoff,
    MAX(
      CASE
        WHEN BIT_COUNT(m.day_mask & SHIFTLEFT(CAST(127 AS BIGINT), s.window_start)) >= 3
        THEN 1
        ELSE 0
      END
    ) AS label
  FROM label_masks AS m
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (29),
      (30),
      (31),
      (32),
      (33),
      (34),
      (35),
      (36),
      (37),
      (38),
      (39),
      (40),
      (41),
      (42),
      (43),
      (44),
      (45),
      (46),
      (47),
      (48),
      (49),
      (50),
      (51),
      (52),
      (53),
      (54) AS starts(window_start)
  ) AS s
  GROUP BY
    m.user_id,
    m.cutoff
)
SELECT
  s.user_id,
  s.cutoff,
  COALESCE(h.label, 0) AS label,
  s.count_PLAY_7d AS count_PLAY_7d,
  s.count_PLAY_14d AS count_PLAY_14d,
  s.count_SKIP_7d AS count_SKIP_7d,
  s.count_SKIP_14d AS count_SKIP_14d,
  s.count_LIKE_7d AS count_LIKE_7d,
  s.count_LIKE_14d AS count_LIKE_14d,
  s.count_ADVERTISEMENT_7d AS count_ADVERTISEMENT_7d,
  s.count_ADVERTISEMENT_14d AS count_ADVERTISEMENT_14d,
  s.active_days_7d AS active_days_7d,
  s.active_days_14d AS active_days_14d,
  s.sessions_14d AS sessions_14d,
  s.days_since_last_event AS days_since_last_event,
  s.area_home_14d AS area_home_14d,
  s.area_search_14d AS area_search_14d,
  s.area_playlist_14d AS area_playlist_14d,
  s.area_radio_14d AS area_radio_14d,
  s.mean_item_popularity_14d AS mean_item_popularity_14d,
  u.channel AS channel,
  u.city AS city,
  s.status AS status,
  s.end_time AS end_of_data
FROM statuses AS s
JOIN users AS u
  ON u.user_id = s.user_id
LEFT JOIN label_hits AS h
  ON h.user_id = s.user_id AND h.cutoff = s.cutoff
ORDER BY
  s.cutoff,
  s.user_id
