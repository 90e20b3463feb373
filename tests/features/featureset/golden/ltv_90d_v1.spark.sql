WITH cutoffs AS (
  SELECT
    CAST(cutoff_day AS TIMESTAMP) AS cutoff
  FROM VALUES
    ('2024-02-01'),
    ('2024-03-01'),
    ('2024-04-01') AS calendar(cutoff_day)
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
), windowed_events AS (
  SELECT
    e.user_id,
    e.event_time,
    e.event_type,
    e.session_id,
    e.item_id,
    e.value,
    e.area,
    r.cutoff
  FROM events AS e
  JOIN cutoffs AS r
    ON e.event_time >= (
      r.cutoff - INTERVAL '90' DAY
    )
    AND e.event_time < (
      r.cutoff + INTERVAL '90' DAY
    )
), aggregates AS (
  SELECT
    r.user_id,
    r.cutoff,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_30d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'SKIP'
        THEN 1
      END
    ) AS count_SKIP_30d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'LIKE'
        THEN 1
      END
    ) AS count_LIKE_30d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'ADVERTISEMENT'
        THEN 1
      END
    ) AS count_ADVERTISEMENT_30d,
    COUNT(
      CASE
        WHEN (
          e.event_time >= (
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'LOGIN'
        THEN 1
      END
    ) AS count_LOGIN_30d,
    COALESCE(
      BIT_COUNT(
        BIT_OR(
          CASE
            WHEN e.event_time >= (
              r.cutoff - INTERVAL '30' DAY
            ) AND e.event_time < r.cutoff
            THEN SHIFTLEFT(
              CAST(1 AS BIGINT),
              CAST(DATEDIFF(DAY, CAST(e.event_time AS DATE), CAST(r.cutoff AS DATE)) AS INT)
            )
          END
        )
      ),
      0
    ) AS active_days_30d,
    COALESCE(
      SUM(
        CASE
          WHEN (
            e.event_time >= (
              r.cutoff - INTERVAL '90' DAY
            ) AND e.event_time < r.cutoff
          )
          AND e.event_type = 'BUY_PREMIUM'
          THEN e.value
        END
      ),
      CAST(0 AS DOUBLE)
    ) AS value_sum_BUY_PREMIUM_90d,
    COALESCE(
      SUM(
        CASE
          WHEN (
            e.event_time >= r.cutoff AND e.event_time < (
              r.cutoff + INTERVAL '90' DAY
            )
          )
          AND e.event_type = 'BUY_PREMIUM'
          THEN e.value
        END
      ),
      CAST(0 AS DOUBLE)
    ) AS label,
    CASE
      WHEN COUNT(
        CASE
          WHEN e.event_time >= (
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
          THEN 1
        END
      ) > 0
      THEN 1
      ELSE 0
    END AS is_active
  FROM candidates AS r
  LEFT JOIN windowed_events AS e
    ON e.user_id = r.user_id AND e.cutoff = r.cutoff
  GROUP BY
    r.user_id,
    r.cutoff
), past_days AS (
  SELECT
    user_id,
    CAST(event_time AS DATE) AS event_day,
    MIN(event_time) AS first_time
  FROM events
  GROUP BY
    user_id,
    CAST(event_time AS DATE)
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
      WHEN is_active = 0
      THEN 'inactive'
      WHEN (
        a.cutoff + INTERVAL '90' DAY
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
  s.count_PLAY_30d AS count_PLAY_30d,
  s.count_SKIP_30d AS count_SKIP_30d,
  s.count_LIKE_30d AS count_LIKE_30d,
  s.count_ADVERTISEMENT_30d AS count_ADVERTISEMENT_30d,
  s.count_LOGIN_30d AS count_LOGIN_30d,
  s.active_days_30d AS active_days_30d,
  s.days_since_last_event AS days_since_last_event,
  DATEDIFF(DAY, CAST(u.signup_time AS DATE), CAST(s.cutoff AS DATE)) AS tenure_days,
  s.value_sum_BUY_PREMIUM_90d AS value_sum_BUY_PREMIUM_90d,
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
