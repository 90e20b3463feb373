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
            r.cutoff - INTERVAL '14' DAY
          ) AND e.event_time < r.cutoff
        )
        AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_14d
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
  GROUP BY
    r.user_id,
    r.cutoff
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
  FROM aggregates AS a
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
      CAST(1 AS BIGINT) << CAST(DATE_DIFF('DAY', CAST(r.cutoff AS DATE), e.event_date) AS INT)
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
        WHEN BIT_COUNT(m.day_mask & (
          CAST(127 AS BIGINT) << s.window_start
        )) >= 3
        THEN 1
        ELSE 0
      END
    ) AS label
  FROM label_masks AS m
  CROSS JOIN (
    SELECT
      *
    FROM (VALUES
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
      (54)) AS starts(window_start)
  ) AS s
  GROUP BY
    m.user_id,
    m.cutoff
), feature_rows AS (
  SELECT
    s.user_id,
    s.cutoff,
    COALESCE(h.label, 0) AS label,
    s.count_PLAY_14d AS count_PLAY_14d,
    s.status AS status,
    s.end_time AS end_of_data
  FROM statuses AS s
  JOIN users AS u
    ON u.user_id = s.user_id
  LEFT JOIN label_hits AS h
    ON h.user_id = s.user_id AND h.cutoff = s.cutoff
), related_org_keys AS (
  SELECT
    f.user_id,
    f.cutoff,
    CAST(u.org_id AS TEXT) AS rel_key
  FROM feature_rows AS f
  JOIN users AS u
    ON u.user_id = f.user_id
  WHERE
    CAST(u.org_id AS TEXT) <> ''
), related_org_members AS (
  SELECT
    CAST(org_id AS TEXT) AS rel_key,
    user_id AS member_id,
    signup_time
  FROM users
  WHERE
    CAST(org_id AS TEXT) IN (
      SELECT
        rel_key
      FROM related_org_keys
    )
), related_org_slots AS (
  SELECT
    k.rel_key,
    k.cutoff,
    m.member_id,
    m.signup_time
  FROM (
    SELECT DISTINCT
      rel_key,
      cutoff
    FROM related_org_keys
  ) AS k
  JOIN related_org_members AS m
    ON m.rel_key = k.rel_key
), related_org_events AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    e.event_time,
    e.event_date,
    e.event_type,
    e.session_id
  FROM related_org_slots AS s
  JOIN events AS e
    ON e.user_id = s.member_id
    AND e.event_time >= (
      s.cutoff - INTERVAL '14' DAY
    )
    AND e.event_time < s.cutoff
), related_org_counts AS (
  SELECT
    rel_key,
    cutoff,
    member_id,
    COUNT(
      CASE
        WHEN event_time >= (
          cutoff - INTERVAL '7' DAY
        ) AND event_type = 'PLAY'
        THEN 1
      END
    ) AS org_count_PLAY_7d,
    COUNT(
      CASE
        WHEN event_time >= (
          cutoff - INTERVAL '14' DAY
        ) AND event_type = 'PLAY'
        THEN 1
      END
    ) AS org_count_PLAY_14d,
    COUNT(
      DISTINCT CASE WHEN event_time >= (
        cutoff - INTERVAL '7' DAY
      ) THEN session_id END
    ) AS org_sessions_7d,
    COUNT(
      DISTINCT CASE WHEN event_time >= (
        cutoff - INTERVAL '14' DAY
      ) THEN session_id END
    ) AS org_sessions_14d
  FROM related_org_events
  GROUP BY
    rel_key,
    cutoff,
    member_id
), related_org_member_days AS (
  SELECT
    rel_key,
    cutoff,
    member_id,
    event_date,
    MAX(CASE WHEN event_time >= (
      cutoff - INTERVAL '7' DAY
    ) THEN 1 ELSE 0 END) AS in_7d,
    MAX(CASE WHEN event_time >= (
      cutoff - INTERVAL '14' DAY
    ) THEN 1 ELSE 0 END) AS in_14d
  FROM related_org_events
  GROUP BY
    rel_key,
    cutoff,
    member_id,
    event_date
), related_org_days AS (
  SELECT
    rel_key,
    cutoff,
    event_date,
    SUM(in_7d) AS active_7d,
    SUM(in_14d) AS active_14d
  FROM related_org_member_days
  GROUP BY
    rel_key,
    cutoff,
    event_date
), related_org_sole AS (
  SELECT
    md.rel_key,
    md.cutoff,
    md.member_id,
    SUM(CASE WHEN md.in_7d = 1 AND d.active_7d = 1 THEN 1 ELSE 0 END) AS sole_7d,
    SUM(CASE WHEN md.in_14d = 1 AND d.active_14d = 1 THEN 1 ELSE 0 END) AS sole_14d
  FROM related_org_member_days AS md
  JOIN related_org_days AS d
    ON md.rel_key = d.rel_key AND md.cutoff = d.cutoff AND md.event_date = d.event_date
  GROUP BY
    md.rel_key,
    md.cutoff,
    md.member_id
), related_org_labels AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    SUM(l.label) AS label_sum,
    COUNT(l.label) AS label_rows
  FROM related_org_slots AS s
  JOIN feature_rows AS l
    ON l.user_id = s.member_id
    AND l.status = 'kept'
    AND (
      l.cutoff + INTERVAL '60' DAY
    ) <= s.cutoff
  GROUP BY
    s.rel_key,
    s.cutoff,
    s.member_id
), related_org_parts AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    CASE WHEN s.signup_time < s.cutoff THEN 1 ELSE 0 END AS signed_up,
    COALESCE(p0.org_count_PLAY_7d, 0) AS org_count_PLAY_7d,
    COALESCE(p0.org_count_PLAY_14d, 0) AS org_count_PLAY_14d,
    COALESCE(p0.org_sessions_7d, 0) AS org_sessions_7d,
    COALESCE(p0.org_sessions_14d, 0) AS org_sessions_14d,
    COALESCE(p1.sole_7d, 0) AS sole_7d,
    COALESCE(p1.sole_14d, 0) AS sole_14d,
    COALESCE(p2.label_sum, 0) AS label_sum,
    COALESCE(p2.label_rows, 0) AS label_rows
  FROM related_org_slots AS s
  LEFT JOIN related_org_counts AS p0
    ON p0.rel_key = s.rel_key AND p0.cutoff = s.cutoff AND p0.member_id = s.member_id
  LEFT JOIN related_org_sole AS p1
    ON p1.rel_key = s.rel_key AND p1.cutoff = s.cutoff AND p1.member_id = s.member_id
  LEFT JOIN related_org_labels AS p2
    ON p2.rel_key = s.rel_key AND p2.cutoff = s.cutoff AND p2.member_id = s.member_id
), related_org_totals AS (
  SELECT
    t.*,
    COALESCE(dd.days_7d, 0) AS days_7d,
    COALESCE(dd.days_14d, 0) AS days_14d
  FROM (
    SELECT
      rel_key,
      cutoff,
      SUM(org_count_PLAY_7d) AS org_count_PLAY_7d,
      SUM(org_count_PLAY_14d) AS org_count_PLAY_14d,
      SUM(org_sessions_7d) AS org_sessions_7d,
      SUM(org_sessions_14d) AS org_sessions_14d,
      SUM(signed_up) AS signed_up,
      SUM(label_sum) AS label_sum,
      SUM(label_rows) AS label_rows
    FROM related_org_parts
    GROUP BY
      rel_key,
      cutoff
  ) AS t
  LEFT JOIN (
    SELECT
      rel_key,
      cutoff,
      SUM(CASE WHEN active_7d >= 1 THEN 1 ELSE 0 END) AS days_7d,
      SUM(CASE WHEN active_14d >= 1 THEN 1 ELSE 0 END) AS days_14d
    FROM related_org_days
    GROUP BY
      rel_key,
      cutoff
  ) AS dd
    ON dd.rel_key = t.rel_key AND dd.cutoff = t.cutoff
), related_org_values AS (
  SELECT
    k.user_id,
    k.cutoff,
    CAST(COALESCE(t.org_count_PLAY_7d, 0) - COALESCE(o.org_count_PLAY_7d, 0) AS DOUBLE) AS org_count_PLAY_7d,
    CAST(COALESCE(t.org_count_PLAY_14d, 0) - COALESCE(o.org_count_PLAY_14d, 0) AS DOUBLE) AS org_count_PLAY_14d,
    CAST(COALESCE(t.days_7d, 0) - COALESCE(o.sole_7d, 0) AS DOUBLE) AS org_active_days_7d,
    CAST(COALESCE(t.days_14d, 0) - COALESCE(o.sole_14d, 0) AS DOUBLE) AS org_active_days_14d,
    CAST(COALESCE(t.org_sessions_7d, 0) - COALESCE(o.org_sessions_7d, 0) AS DOUBLE) AS org_sessions_7d,
    CAST(COALESCE(t.org_sessions_14d, 0) - COALESCE(o.org_sessions_14d, 0) AS DOUBLE) AS org_sessions_14d,
    CAST(COALESCE(t.signed_up, 0) - COALESCE(o.signed_up, 0) AS DOUBLE) AS org_users,
    CAST(COALESCE(t.label_sum, 0) - COALESCE(o.label_sum, 0) AS DOUBLE) / NULLIF(CAST(COALESCE(t.label_rows, 0) - COALESCE(o.label_rows, 0) AS DOUBLE), 0) AS org_label_rate
  FROM related_org_keys AS k
  LEFT JOIN related_org_totals AS t
    ON t.rel_key = k.rel_key AND t.cutoff = k.cutoff
  LEFT JOIN related_org_parts AS o
    ON (
      o.rel_key = k.rel_key AND o.cutoff = k.cutoff
    ) AND o.member_id = k.user_id
), related_inviter_keys AS (
  SELECT
    f.user_id,
    f.cutoff,
    CAST(u.invited_by AS TEXT) AS rel_key
  FROM feature_rows AS f
  JOIN users AS u
    ON u.user_id = f.user_id
  WHERE
    CAST(u.invited_by AS TEXT) <> ''
), related_inviter_members AS (
  SELECT
    user_id AS rel_key,
    user_id AS member_id,
    signup_time
  FROM users
  WHERE
    user_id IN (
      SELECT
        rel_key
      FROM related_inviter_keys
    )
), related_inviter_slots AS (
  SELECT
    k.rel_key,
    k.cutoff,
    m.member_id,
    m.signup_time
  FROM (
    SELECT DISTINCT
      rel_key,
      cutoff
    FROM related_inviter_keys
  ) AS k
  JOIN related_inviter_members AS m
    ON m.rel_key = k.rel_key
), related_inviter_events AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    e.event_time,
    e.event_date,
    e.event_type,
    e.session_id
  FROM related_inviter_slots AS s
  JOIN events AS e
    ON e.user_id = s.member_id
    AND e.event_time >= (
      s.cutoff - INTERVAL '14' DAY
    )
    AND e.event_time < s.cutoff
), related_inviter_counts AS (
  SELECT
    rel_key,
    cutoff,
    member_id,
    COUNT(
      CASE
        WHEN event_time >= (
          cutoff - INTERVAL '14' DAY
        ) AND event_type = 'PLAY'
        THEN 1
      END
    ) AS inviter_count_PLAY_14d
  FROM related_inviter_events
  GROUP BY
    rel_key,
    cutoff,
    member_id
), related_inviter_member_days AS (
  SELECT
    rel_key,
    cutoff,
    member_id,
    event_date,
    MAX(CASE WHEN event_time >= (
      cutoff - INTERVAL '14' DAY
    ) THEN 1 ELSE 0 END) AS in_14d
  FROM related_inviter_events
  GROUP BY
    rel_key,
    cutoff,
    member_id,
    event_date
), related_inviter_days AS (
  SELECT
    rel_key,
    cutoff,
    event_date,
    SUM(in_14d) AS active_14d
  FROM related_inviter_member_days
  GROUP BY
    rel_key,
    cutoff,
    event_date
), related_inviter_sole AS (
  SELECT
    md.rel_key,
    md.cutoff,
    md.member_id,
    SUM(CASE WHEN md.in_14d = 1 AND d.active_14d = 1 THEN 1 ELSE 0 END) AS sole_14d
  FROM related_inviter_member_days AS md
  JOIN related_inviter_days AS d
    ON md.rel_key = d.rel_key AND md.cutoff = d.cutoff AND md.event_date = d.event_date
  GROUP BY
    md.rel_key,
    md.cutoff,
    md.member_id
), related_inviter_labels AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    SUM(l.label) AS label_sum,
    COUNT(l.label) AS label_rows
  FROM related_inviter_slots AS s
  JOIN feature_rows AS l
    ON l.user_id = s.member_id
    AND l.status = 'kept'
    AND (
      l.cutoff + INTERVAL '60' DAY
    ) <= s.cutoff
  GROUP BY
    s.rel_key,
    s.cutoff,
    s.member_id
), related_inviter_parts AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    CASE WHEN s.signup_time < s.cutoff THEN 1 ELSE 0 END AS signed_up,
    COALESCE(p0.inviter_count_PLAY_14d, 0) AS inviter_count_PLAY_14d,
    COALESCE(p1.sole_14d, 0) AS sole_14d,
    COALESCE(p2.label_sum, 0) AS label_sum,
    COALESCE(p2.label_rows, 0) AS label_rows
  FROM related_inviter_slots AS s
  LEFT JOIN related_inviter_counts AS p0
    ON p0.rel_key = s.rel_key AND p0.cutoff = s.cutoff AND p0.member_id = s.member_id
  LEFT JOIN related_inviter_sole AS p1
    ON p1.rel_key = s.rel_key AND p1.cutoff = s.cutoff AND p1.member_id = s.member_id
  LEFT JOIN related_inviter_labels AS p2
    ON p2.rel_key = s.rel_key AND p2.cutoff = s.cutoff AND p2.member_id = s.member_id
), related_inviter_totals AS (
  SELECT
    t.*,
    COALESCE(dd.days_14d, 0) AS days_14d
  FROM (
    SELECT
      rel_key,
      cutoff,
      SUM(inviter_count_PLAY_14d) AS inviter_count_PLAY_14d,
      SUM(signed_up) AS signed_up,
      SUM(label_sum) AS label_sum,
      SUM(label_rows) AS label_rows
    FROM related_inviter_parts
    GROUP BY
      rel_key,
      cutoff
  ) AS t
  LEFT JOIN (
    SELECT
      rel_key,
      cutoff,
      SUM(CASE WHEN active_14d >= 1 THEN 1 ELSE 0 END) AS days_14d
    FROM related_inviter_days
    GROUP BY
      rel_key,
      cutoff
  ) AS dd
    ON dd.rel_key = t.rel_key AND dd.cutoff = t.cutoff
), related_inviter_values AS (
  SELECT
    k.user_id,
    k.cutoff,
    CAST(COALESCE(t.inviter_count_PLAY_14d, 0) - COALESCE(o.inviter_count_PLAY_14d, 0) AS DOUBLE) AS inviter_count_PLAY_14d,
    CAST(COALESCE(t.days_14d, 0) - COALESCE(o.sole_14d, 0) AS DOUBLE) AS inviter_active_days_14d,
    CAST(COALESCE(t.signed_up, 0) - COALESCE(o.signed_up, 0) AS DOUBLE) AS inviter_users,
    CAST(COALESCE(t.label_sum, 0) - COALESCE(o.label_sum, 0) AS DOUBLE) / NULLIF(CAST(COALESCE(t.label_rows, 0) - COALESCE(o.label_rows, 0) AS DOUBLE), 0) AS inviter_label_rate
  FROM related_inviter_keys AS k
  LEFT JOIN related_inviter_totals AS t
    ON t.rel_key = k.rel_key AND t.cutoff = k.cutoff
  LEFT JOIN related_inviter_parts AS o
    ON (
      o.rel_key = k.rel_key AND o.cutoff = k.cutoff
    ) AND o.member_id = k.user_id
)
SELECT
  s.user_id,
  s.cutoff,
  s.label,
  s.count_PLAY_14d,
  related_org_values.org_count_PLAY_7d,
  related_org_values.org_count_PLAY_14d,
  related_org_values.org_active_days_7d,
  related_org_values.org_active_days_14d,
  related_org_values.org_sessions_7d,
  related_org_values.org_sessions_14d,
  related_org_values.org_users,
  related_org_values.org_label_rate,
  related_inviter_values.inviter_count_PLAY_14d,
  related_inviter_values.inviter_active_days_14d,
  related_inviter_values.inviter_users,
  related_inviter_values.inviter_label_rate,
  s.status,
  s.end_of_data
FROM feature_rows AS s
LEFT JOIN related_org_values
  ON related_org_values.user_id = s.user_id AND related_org_values.cutoff = s.cutoff
LEFT JOIN related_inviter_values
  ON related_inviter_values.user_id = s.user_id
  AND related_inviter_values.cutoff = s.cutoff
ORDER BY
  s.cutoff,
  s.user_id
