WITH candidates AS (
  SELECT
    u.user_id,
    (
      CAST(CAST(u.signup_time AS DATE) AS TIMESTAMP) + INTERVAL '30' DAY
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
            r.cutoff - INTERVAL '30' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_30d,
    CASE
      WHEN COUNT(
        CASE
          WHEN (
            e.event_time >= r.cutoff AND e.event_time < (
              r.cutoff + INTERVAL '30' DAY
            )
          )
          AND e.event_type = 'UPGRADE'
          THEN 1
        END
      ) > 0
      THEN 1
      ELSE 0
    END AS label
  FROM candidates AS r
  LEFT JOIN events AS e
    ON e.user_id = r.user_id
    AND (
      e.event_time >= (
        r.cutoff - INTERVAL '30' DAY
      )
      AND e.event_time < (
        r.cutoff + INTERVAL '30' DAY
      )
    )
  GROUP BY
    r.user_id,
    r.cutoff
), last_values AS (
  SELECT
    r.user_id,
    r.cutoff,
    MAX(
      CASE
        WHEN e.event_type = 'PLAN' AND NOT e.area IS NULL
        THEN {'t': e.event_time, 'v': e.area}
      END
    ).v AS last_area_PLAN,
    MAX(
      CASE
        WHEN e.event_type = 'PLAY' AND NOT e.item_id IS NULL
        THEN {'t': e.event_time, 'v': e.item_id}
      END
    ).v AS last_item_id_PLAY,
    MAX(
      CASE
        WHEN e.event_type = 'PURCHASE' AND NOT e.value IS NULL
        THEN {'t': e.event_time, 'v': e.value}
      END
    ).v AS last_value_PURCHASE
  FROM candidates AS r
  JOIN events AS e
    ON e.user_id = r.user_id
    AND e.event_time < r.cutoff
    AND (
      (
        e.event_type = 'PLAN' AND NOT e.area IS NULL
      )
      OR (
        e.event_type = 'PLAY' AND NOT e.item_id IS NULL
      )
      OR (
        e.event_type = 'PURCHASE' AND NOT e.value IS NULL
      )
    )
  GROUP BY
    r.user_id,
    r.cutoff
), combined AS (
  SELECT
    w.*,
    lv.last_area_PLAN AS last_area_PLAN,
    lv.last_item_id_PLAY AS last_item_id_PLAY,
    lv.last_value_PURCHASE AS last_value_PURCHASE
  FROM aggregates AS w
  LEFT JOIN last_values AS lv
    ON lv.user_id = w.user_id AND lv.cutoff = w.cutoff
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
  s.count_PLAY_30d AS count_PLAY_30d,
  s.last_area_PLAN AS last_area_PLAN,
  s.last_item_id_PLAY AS last_item_id_PLAY,
  s.last_value_PURCHASE AS last_value_PURCHASE,
  s.status AS status,
  s.end_time AS end_of_data
FROM statuses AS s
JOIN users AS u
  ON u.user_id = s.user_id
ORDER BY
  s.cutoff,
  s.user_id
