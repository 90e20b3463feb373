WITH candidates AS (
  SELECT
    u.user_id,
    (
      CAST(CAST(u.signup_time AS DATE) AS TIMESTAMP) + INTERVAL '14' DAY
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
), feature_rows AS (
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
), related_user_days AS (
  SELECT
    user_id,
    event_date,
    COUNT(CASE WHEN event_type = 'PLAY' THEN 1 END) AS n_PLAY
  FROM events
  GROUP BY
    user_id,
    event_date
), related_org_keys AS (
  SELECT
    f.user_id,
    f.cutoff,
    CAST(u.org_id AS STRING) AS rel_key
  FROM feature_rows AS f
  JOIN users AS u
    ON u.user_id = f.user_id
  WHERE
    CAST(u.org_id AS STRING) <> ''
), related_org_members AS (
  SELECT
    CAST(org_id AS STRING) AS rel_key,
    user_id AS member_id,
    signup_time
  FROM users
  WHERE
    CAST(org_id AS STRING) IN (
      SELECT
        rel_key
      FROM related_org_keys
    )
), related_org_member_days AS (
  SELECT
    m.rel_key,
    m.member_id,
    r.event_date,
    r.n_PLAY
  FROM related_user_days AS r
  JOIN related_org_members AS m
    ON m.member_id = r.user_id
), related_org_key_days AS (
  SELECT
    rel_key,
    event_date,
    COUNT(*) AS active_members,
    SUM(n_PLAY) AS n_PLAY
  FROM related_org_member_days
  GROUP BY
    rel_key,
    event_date
), related_org_key_offsets AS (
  SELECT
    k.rel_key,
    k.cutoff,
    o.day_offset,
    CAST(DATE_ADD(CAST(k.cutoff AS DATE), o.day_offset) AS DATE) AS event_date
  FROM (
    SELECT DISTINCT
      rel_key,
      cutoff
    FROM related_org_keys
  ) AS k
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (-1) AS o(day_offset)
  ) AS o
), related_org_row_offsets AS (
  SELECT
    k.user_id,
    k.cutoff,
    k.rel_key,
    o.day_offset,
    CAST(DATE_ADD(CAST(k.cutoff AS DATE), o.day_offset) AS DATE) AS event_date
  FROM related_org_keys AS k
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (-1) AS o(day_offset)
  ) AS o
), related_org_key_totals AS (
  SELECT
    o.rel_key,
    o.cutoff,
    COALESCE(SUM(CASE WHEN o.day_offset >= -7 THEN d.n_PLAY END), 0) AS org_count_PLAY_7d,
    COALESCE(SUM(CASE WHEN o.day_offset >= -14 THEN d.n_PLAY END), 0) AS org_count_PLAY_14d,
    COUNT(CASE WHEN o.day_offset >= -7 THEN 1 END) AS days_7d,
    COUNT(CASE WHEN o.day_offset >= -14 THEN 1 END) AS days_14d
  FROM related_org_key_offsets AS o
  JOIN related_org_key_days AS d
    ON d.rel_key = o.rel_key AND d.event_date = o.event_date
  GROUP BY
    o.rel_key,
    o.cutoff
), related_org_own_totals AS (
  SELECT
    o.user_id,
    o.cutoff,
    COALESCE(SUM(CASE WHEN o.day_offset >= -7 THEN d.n_PLAY END), 0) AS org_count_PLAY_7d,
    COALESCE(SUM(CASE WHEN o.day_offset >= -14 THEN d.n_PLAY END), 0) AS org_count_PLAY_14d,
    COUNT(CASE WHEN o.day_offset >= -7 AND kd.active_members = 1 THEN 1 END) AS sole_7d,
    COUNT(CASE WHEN o.day_offset >= -14 AND kd.active_members = 1 THEN 1 END) AS sole_14d
  FROM related_org_row_offsets AS o
  JOIN related_org_member_days AS d
    ON (
      d.rel_key = o.rel_key AND d.event_date = o.event_date
    )
    AND d.member_id = o.user_id
  JOIN related_org_key_days AS kd
    ON kd.rel_key = o.rel_key AND kd.event_date = o.event_date
  GROUP BY
    o.user_id,
    o.cutoff
), related_org_windowed AS (
  SELECT
    k.user_id,
    k.cutoff,
    CAST(COALESCE(t0.org_count_PLAY_7d, 0) - COALESCE(o0.org_count_PLAY_7d, 0) AS DOUBLE) AS org_count_PLAY_7d,
    CAST(COALESCE(t0.org_count_PLAY_14d, 0) - COALESCE(o0.org_count_PLAY_14d, 0) AS DOUBLE) AS org_count_PLAY_14d,
    CAST(COALESCE(t0.days_7d, 0) - COALESCE(o0.sole_7d, 0) AS DOUBLE) AS org_active_days_7d,
    CAST(COALESCE(t0.days_14d, 0) - COALESCE(o0.sole_14d, 0) AS DOUBLE) AS org_active_days_14d
  FROM related_org_keys AS k
  LEFT JOIN related_org_key_totals AS t0
    ON t0.rel_key = k.rel_key AND t0.cutoff = k.cutoff
  LEFT JOIN related_org_own_totals AS o0
    ON o0.user_id = k.user_id AND o0.cutoff = k.cutoff
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
    COALESCE(p0.label_sum, 0) AS label_sum,
    COALESCE(p0.label_rows, 0) AS label_rows
  FROM related_org_slots AS s
  LEFT JOIN related_org_labels AS p0
    ON p0.rel_key = s.rel_key AND p0.cutoff = s.cutoff AND p0.member_id = s.member_id
), related_org_totals AS (
  SELECT
    rel_key,
    cutoff,
    SUM(signed_up) AS signed_up,
    SUM(label_sum) AS label_sum,
    SUM(label_rows) AS label_rows
  FROM related_org_parts
  GROUP BY
    rel_key,
    cutoff
), related_org_values AS (
  SELECT
    k.user_id,
    k.cutoff,
    w.org_count_PLAY_7d AS org_count_PLAY_7d,
    w.org_count_PLAY_14d AS org_count_PLAY_14d,
    w.org_active_days_7d AS org_active_days_7d,
    w.org_active_days_14d AS org_active_days_14d,
    CAST(COALESCE(t.signed_up, 0) - COALESCE(o.signed_up, 0) AS DOUBLE) AS org_users,
    CAST(COALESCE(t.label_sum, 0) - COALESCE(o.label_sum, 0) AS DOUBLE) / NULLIF(CAST(COALESCE(t.label_rows, 0) - COALESCE(o.label_rows, 0) AS DOUBLE), 0) AS org_label_rate
  FROM related_org_keys AS k
  LEFT JOIN related_org_totals AS t
    ON t.rel_key = k.rel_key AND t.cutoff = k.cutoff
  LEFT JOIN related_org_parts AS o
    ON (
      o.rel_key = k.rel_key AND o.cutoff = k.cutoff
    ) AND o.member_id = k.user_id
  LEFT JOIN related_org_windowed AS w
    ON w.user_id = k.user_id AND w.cutoff = k.cutoff
), related_team_keys AS (
  SELECT
    f.user_id,
    f.cutoff,
    CAST(u.team_id AS STRING) AS rel_key
  FROM feature_rows AS f
  JOIN users AS u
    ON u.user_id = f.user_id
  WHERE
    CAST(u.team_id AS STRING) <> ''
), related_team_members AS (
  SELECT
    CAST(team_id AS STRING) AS rel_key,
    user_id AS member_id,
    signup_time
  FROM users
  WHERE
    CAST(team_id AS STRING) IN (
      SELECT
        rel_key
      FROM related_team_keys
    )
), related_team_member_days AS (
  SELECT
    m.rel_key,
    m.member_id,
    r.event_date
  FROM related_user_days AS r
  JOIN related_team_members AS m
    ON m.member_id = r.user_id
), related_team_key_days AS (
  SELECT
    rel_key,
    event_date,
    COUNT(*) AS active_members
  FROM related_team_member_days
  GROUP BY
    rel_key,
    event_date
), related_team_key_offsets AS (
  SELECT
    k.rel_key,
    k.cutoff,
    o.day_offset,
    CAST(DATE_ADD(CAST(k.cutoff AS DATE), o.day_offset) AS DATE) AS event_date
  FROM (
    SELECT DISTINCT
      rel_key,
      cutoff
    FROM related_team_keys
  ) AS k
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (-1) AS o(day_offset)
  ) AS o
), related_team_row_offsets AS (
  SELECT
    k.user_id,
    k.cutoff,
    k.rel_key,
    o.day_offset,
    CAST(DATE_ADD(CAST(k.cutoff AS DATE), o.day_offset) AS DATE) AS event_date
  FROM related_team_keys AS k
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (-1) AS o(day_offset)
  ) AS o
), related_team_key_totals AS (
  SELECT
    o.rel_key,
    o.cutoff,
    COUNT(CASE WHEN o.day_offset >= -14 THEN 1 END) AS days_14d
  FROM related_team_key_offsets AS o
  JOIN related_team_key_days AS d
    ON d.rel_key = o.rel_key AND d.event_date = o.event_date
  GROUP BY
    o.rel_key,
    o.cutoff
), related_team_own_totals AS (
  SELECT
    o.user_id,
    o.cutoff,
    COUNT(CASE WHEN o.day_offset >= -14 AND kd.active_members = 1 THEN 1 END) AS sole_14d
  FROM related_team_row_offsets AS o
  JOIN related_team_member_days AS d
    ON (
      d.rel_key = o.rel_key AND d.event_date = o.event_date
    )
    AND d.member_id = o.user_id
  JOIN related_team_key_days AS kd
    ON kd.rel_key = o.rel_key AND kd.event_date = o.event_date
  GROUP BY
    o.user_id,
    o.cutoff
), related_team_windowed AS (
  SELECT
    k.user_id,
    k.cutoff,
    CAST(COALESCE(t0.days_14d, 0) - COALESCE(o0.sole_14d, 0) AS DOUBLE) AS team_active_days_14d
  FROM related_team_keys AS k
  LEFT JOIN related_team_key_totals AS t0
    ON t0.rel_key = k.rel_key AND t0.cutoff = k.cutoff
  LEFT JOIN related_team_own_totals AS o0
    ON o0.user_id = k.user_id AND o0.cutoff = k.cutoff
), related_team_slots AS (
  SELECT
    k.rel_key,
    k.cutoff,
    m.member_id,
    m.signup_time
  FROM (
    SELECT DISTINCT
      rel_key,
      cutoff
    FROM related_team_keys
  ) AS k
  JOIN related_team_members AS m
    ON m.rel_key = k.rel_key
), related_team_parts AS (
  SELECT
    s.rel_key,
    s.cutoff,
    s.member_id,
    CASE WHEN s.signup_time < s.cutoff THEN 1 ELSE 0 END AS signed_up
  FROM related_team_slots AS s
), related_team_totals AS (
  SELECT
    rel_key,
    cutoff,
    SUM(signed_up) AS signed_up
  FROM related_team_parts
  GROUP BY
    rel_key,
    cutoff
), related_team_values AS (
  SELECT
    k.user_id,
    k.cutoff,
    w.team_active_days_14d AS team_active_days_14d,
    CAST(COALESCE(t.signed_up, 0) - COALESCE(o.signed_up, 0) AS DOUBLE) AS team_users
  FROM related_team_keys AS k
  LEFT JOIN related_team_totals AS t
    ON t.rel_key = k.rel_key AND t.cutoff = k.cutoff
  LEFT JOIN related_team_parts AS o
    ON (
      o.rel_key = k.rel_key AND o.cutoff = k.cutoff
    ) AND o.member_id = k.user_id
  LEFT JOIN related_team_windowed AS w
    ON w.user_id = k.user_id AND w.cutoff = k.cutoff
), related_inviter_keys AS (
  SELECT
    f.user_id,
    f.cutoff,
    CAST(u.invited_by AS STRING) AS rel_key
  FROM feature_rows AS f
  JOIN users AS u
    ON u.user_id = f.user_id
  WHERE
    CAST(u.invited_by AS STRING) <> ''
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
), related_inviter_member_days AS (
  SELECT
    m.rel_key,
    m.member_id,
    r.event_date,
    r.n_PLAY
  FROM related_user_days AS r
  JOIN related_inviter_members AS m
    ON m.member_id = r.user_id
), related_inviter_key_days AS (
  SELECT
    rel_key,
    event_date,
    COUNT(*) AS active_members,
    SUM(n_PLAY) AS n_PLAY
  FROM related_inviter_member_days
  GROUP BY
    rel_key,
    event_date
), related_inviter_key_offsets AS (
  SELECT
    k.rel_key,
    k.cutoff,
    o.day_offset,
    CAST(DATE_ADD(CAST(k.cutoff AS DATE), o.day_offset) AS DATE) AS event_date
  FROM (
    SELECT DISTINCT
      rel_key,
      cutoff
    FROM related_inviter_keys
  ) AS k
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (-1) AS o(day_offset)
  ) AS o
), related_inviter_row_offsets AS (
  SELECT
    k.user_id,
    k.cutoff,
    k.rel_key,
    o.day_offset,
    CAST(DATE_ADD(CAST(k.cutoff AS DATE), o.day_offset) AS DATE) AS event_date
  FROM related_inviter_keys AS k
  CROSS JOIN (
    SELECT
      *
    FROM VALUES
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
      (-1) AS o(day_offset)
  ) AS o
  WHERE
    k.rel_key = k.user_id
), related_inviter_key_totals AS (
  SELECT
    o.rel_key,
    o.cutoff,
    COALESCE(SUM(CASE WHEN o.day_offset >= -14 THEN d.n_PLAY END), 0) AS inviter_count_PLAY_14d,
    COUNT(CASE WHEN o.day_offset >= -14 THEN 1 END) AS days_14d
  FROM related_inviter_key_offsets AS o
  JOIN related_inviter_key_days AS d
    ON d.rel_key = o.rel_key AND d.event_date = o.event_date
  GROUP BY
    o.rel_key,
    o.cutoff
), related_inviter_own_totals AS (
  SELECT
    o.user_id,
    o.cutoff,
    COALESCE(SUM(CASE WHEN o.day_offset >= -14 THEN d.n_PLAY END), 0) AS inviter_count_PLAY_14d,
    COUNT(CASE WHEN o.day_offset >= -14 AND kd.active_members = 1 THEN 1 END) AS sole_14d
  FROM related_inviter_row_offsets AS o
  JOIN related_inviter_member_days AS d
    ON (
      d.rel_key = o.rel_key AND d.event_date = o.event_date
    )
    AND d.member_id = o.user_id
  JOIN related_inviter_key_days AS kd
    ON kd.rel_key = o.rel_key AND kd.event_date = o.event_date
  GROUP BY
    o.user_id,
    o.cutoff
), related_inviter_windowed AS (
  SELECT
    k.user_id,
    k.cutoff,
    CAST(COALESCE(t0.inviter_count_PLAY_14d, 0) - COALESCE(o0.inviter_count_PLAY_14d, 0) AS DOUBLE) AS inviter_count_PLAY_14d,
    CAST(COALESCE(t0.days_14d, 0) - COALESCE(o0.sole_14d, 0) AS DOUBLE) AS inviter_active_days_14d
  FROM related_inviter_keys AS k
  LEFT JOIN related_inviter_key_totals AS t0
    ON t0.rel_key = k.rel_key AND t0.cutoff = k.cutoff
  LEFT JOIN related_inviter_own_totals AS o0
    ON o0.user_id = k.user_id AND o0.cutoff = k.cutoff
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
    COALESCE(p0.label_sum, 0) AS label_sum,
    COALESCE(p0.label_rows, 0) AS label_rows
  FROM related_inviter_slots AS s
  LEFT JOIN related_inviter_labels AS p0
    ON p0.rel_key = s.rel_key AND p0.cutoff = s.cutoff AND p0.member_id = s.member_id
), related_inviter_totals AS (
  SELECT
    rel_key,
    cutoff,
    SUM(label_sum) AS label_sum,
    SUM(label_rows) AS label_rows
  FROM related_inviter_parts
  GROUP BY
    rel_key,
    cutoff
), related_inviter_values AS (
  SELECT
    k.user_id,
    k.cutoff,
    w.inviter_count_PLAY_14d AS inviter_count_PLAY_14d,
    w.inviter_active_days_14d AS inviter_active_days_14d,
    CAST(COALESCE(t.label_sum, 0) - COALESCE(o.label_sum, 0) AS DOUBLE) / NULLIF(CAST(COALESCE(t.label_rows, 0) - COALESCE(o.label_rows, 0) AS DOUBLE), 0) AS inviter_label_rate
  FROM related_inviter_keys AS k
  LEFT JOIN related_inviter_totals AS t
    ON t.rel_key = k.rel_key AND t.cutoff = k.cutoff
  LEFT JOIN related_inviter_parts AS o
    ON (
      o.rel_key = k.rel_key AND o.cutoff = k.cutoff
    ) AND o.member_id = k.user_id
  LEFT JOIN related_inviter_windowed AS w
    ON w.user_id = k.user_id AND w.cutoff = k.cutoff
)
SELECT
  s.user_id,
  s.cutoff,
  s.label,
  s.count_PLAY_7d,
  s.count_PLAY_14d,
  s.count_SKIP_7d,
  s.count_SKIP_14d,
  s.count_LIKE_7d,
  s.count_LIKE_14d,
  s.count_ADVERTISEMENT_7d,
  s.count_ADVERTISEMENT_14d,
  s.active_days_7d,
  s.active_days_14d,
  s.sessions_14d,
  s.days_since_last_event,
  s.area_home_14d,
  s.area_search_14d,
  s.area_playlist_14d,
  s.area_radio_14d,
  s.mean_item_popularity_14d,
  s.channel,
  s.city,
  related_org_values.org_count_PLAY_7d,
  related_org_values.org_count_PLAY_14d,
  related_org_values.org_active_days_7d,
  related_org_values.org_active_days_14d,
  related_org_values.org_users,
  related_org_values.org_label_rate,
  related_team_values.team_active_days_14d,
  related_team_values.team_users,
  related_inviter_values.inviter_count_PLAY_14d,
  related_inviter_values.inviter_active_days_14d,
  related_inviter_values.inviter_label_rate,
  s.status,
  s.end_of_data
FROM feature_rows AS s
LEFT JOIN related_org_values
  ON related_org_values.user_id = s.user_id AND related_org_values.cutoff = s.cutoff
LEFT JOIN related_team_values
  ON related_team_values.user_id = s.user_id AND related_team_values.cutoff = s.cutoff
LEFT JOIN related_inviter_values
  ON related_inviter_values.user_id = s.user_id
  AND related_inviter_values.cutoff = s.cutoff
ORDER BY
  s.cutoff,
  s.user_id
