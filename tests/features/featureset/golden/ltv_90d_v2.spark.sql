WITH cutoffs AS (
  SELECT
    CAST(cutoff_day AS TIMESTAMP) AS cutoff
  FROM VALUES
    ('2024-02-01'),
    ('2024-05-01'),
    ('2024-07-30') AS calendar(cutoff_day)
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
      (-365),
      (-364),
      (-363),
      (-362),
      (-361),
      (-360),
      (-359),
      (-358),
      (-357),
      (-356),
      (-355),
      (-354),
      (-353),
      (-352),
      (-351),
      (-350),
      (-349),
      (-348),
      (-347),
      (-346),
      (-345),
      (-344),
      (-343),
      (-342),
      (-341),
      (-340),
      (-339),
      (-338),
      (-337),
      (-336),
      (-335),
      (-334),
      (-333),
      (-332),
      (-331),
      (-330),
      (-329),
      (-328),
      (-327),
      (-326),
      (-325),
      (-324),
      (-323),
      (-322),
      (-321),
      (-320),
      (-319),
      (-318),
      (-317),
      (-316),
      (-315),
      (-314),
      (-313),
      (-312),
      (-311),
      (-310),
      (-309),
      (-308),
      (-307),
      (-306),
      (-305),
      (-304),
      (-303),
      (-302),
      (-301),
      (-300),
      (-299),
      (-298),
      (-297),
      (-296),
      (-295),
      (-294),
      (-293),
      (-292),
      (-291),
      (-290),
      (-289),
      (-288),
      (-287),
      (-286),
      (-285),
      (-284),
      (-283),
      (-282),
      (-281),
      (-280),
      (-279),
      (-278),
      (-277),
      (-276),
      (-275),
      (-274),
      (-273),
      (-272),
      (-271),
      (-270),
      (-269),
      (-268),
      (-267),
      (-266),
      (-265),
      (-264),
      (-263),
      (-262),
      (-261),
      (-260),
      (-259),
      (-258),
      (-257),
      (-256),
      (-255),
      (-254),
      (-253),
      (-252),
      (-251),
      (-250),
      (-249),
      (-248),
      (-247),
      (-246),
      (-245),
      (-244),
      (-243),
      (-242),
      (-241),
      (-240),
      (-239),
      (-238),
      (-237),
      (-236),
      (-235),
      (-234),
      (-233),
      (-232),
      (-231),
      (-230),
      (-229),
      (-228),
      (-227),
      (-226),
      (-225),
      (-224),
      (-223),
      (-222),
      (-221),
      (-220),
      (-219),
      (-218),
      (-217),
      (-216),
      (-215),
      (-214),
      (-213),
      (-212),
      (-211),
      (-210),
      (-209),
      (-208),
      (-207),
      (-206),
      (-205),
      (-204),
      (-203),
      (-202),
      (-201),
      (-200),
      (-199),
      (-198),
      (-197),
      (-196),
      (-195),
      (-194),
      (-193),
      (-192),
      (-191),
      (-190),
      (-189),
      (-188),
      (-187),
      (-186),
      (-185),
      (-184),
      (-183),
      (-182),
      (-181),
      (-180),
      (-179),
      (-178),
      (-177),
      (-176),
      (-175),
      (-174),
      (-173),
      (-172),
      (-171),
      (-170),
      (-169),
      (-168),
      (-167),
      (-166),
      (-165),
      (-164),
      (-163),
      (-162),
      (-161),
      (-160),
      (-159),
      (-158),
      (-157),
      (-156),
      (-155),
      (-154),
      (-153),
      (-152),
      (-151),
      (-150),
      (-149),
      (-148),
      (-147),
      (-146),
      (-145),
      (-144),
      (-143),
      (-142),
      (-141),
      (-140),
      (-139),
      (-138),
      (-137),
      (-136),
      (-135),
      (-134),
      (-133),
      (-132),
      (-131),
      (-130),
      (-129),
      (-128),
      (-127),
      (-126),
      (-125),
      (-124),
      (-123),
      (-122),
      (-121),
      (-120),
      (-119),
      (-118),
      (-117),
      (-116),
      (-115),
      (-114),
      (-113),
      (-112),
      (-111),
      (-110),
      (-109),
      (-108),
      (-107),
      (-106),
      (-105),
      (-104),
      (-103),
      (-102),
      (-101),
      (-100),
      (-99),
      (-98),
      (-97),
      (-96),
      (-95),
      (-94),
      (-93),
      (-92),
      (-91),
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
      (54),
      (55),
      (56),
      (57),
      (58),
      (59),
      (60),
      (61),
      (62),
      (63),
      (64),
      (65),
      (66),
      (67),
      (68),
      (69),
      (70),
      (71),
      (72),
      (73),
      (74),
      (75),
      (76),
      (77),
      (78),
      (79),
      (80),
      (81),
      (82),
      (83),
      (84),
      (85),
      (86),
      (87),
      (88),
      (89) AS span(day_offset)
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
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'PLAY'
        THEN 1
      END
    ) AS count_PLAY_30d,
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
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'LIKE'
        THEN 1
      END
    ) AS count_LIKE_30d,
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
          e.day_offset >= -30 AND e.day_offset < 0
        ) AND e.event_type = 'LOGIN'
        THEN 1
      END
    ) AS count_LOGIN_30d,
    COALESCE(
      BIT_COUNT(
        BIT_OR(
          CASE
            WHEN e.day_offset >= -30 AND e.day_offset < 0
            THEN SHIFTLEFT(CAST(1 AS BIGINT), CAST(-e.day_offset AS INT))
          END
        )
      ),
      0
    ) AS active_days_30d,
    COALESCE(
      SUM(
        CASE
          WHEN (
            e.day_offset >= -90 AND e.day_offset < 0
          ) AND e.event_type = 'BUY_PREMIUM'
          THEN e.value
        END
      ),
      CAST(0 AS DOUBLE)
    ) AS value_sum_BUY_PREMIUM_90d,
    COALESCE(
      SUM(
        CASE
          WHEN (
            e.day_offset >= -365 AND e.day_offset < 0
          ) AND e.event_type = 'BUY_PREMIUM'
          THEN e.value
        END
      ),
      CAST(0 AS DOUBLE)
    ) AS value_sum_BUY_PREMIUM_365d,
    COALESCE(
      SUM(
        CASE
          WHEN (
            e.day_offset >= 0 AND e.day_offset < 90
          ) AND e.event_type = 'BUY_PREMIUM'
          THEN e.value
        END
      ),
      CAST(0 AS DOUBLE)
    ) AS label,
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
    COALESCE(a.count_PLAY_30d, 0) AS count_PLAY_30d,
    COALESCE(a.count_SKIP_30d, 0) AS count_SKIP_30d,
    COALESCE(a.count_LIKE_30d, 0) AS count_LIKE_30d,
    COALESCE(a.count_ADVERTISEMENT_30d, 0) AS count_ADVERTISEMENT_30d,
    COALESCE(a.count_LOGIN_30d, 0) AS count_LOGIN_30d,
    COALESCE(a.active_days_30d, 0) AS active_days_30d,
    COALESCE(a.value_sum_BUY_PREMIUM_90d, CAST(0.0 AS DOUBLE)) AS value_sum_BUY_PREMIUM_90d,
    COALESCE(a.value_sum_BUY_PREMIUM_365d, CAST(0.0 AS DOUBLE)) AS value_sum_BUY_PREMIUM_365d,
    COALESCE(a.label, CAST(0.0 AS DOUBLE)) AS label,
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
      ELSE CAST(DATE_ADD(
        CAST('2024-02-01' AS DATE),
        CAST((
          DATEDIFF(DAY, CAST('2024-02-01' AS DATE), last_event_day) DIV 90 + 1
        ) * 90 AS INT)
      ) AS DATE)
    END AS TIMESTAMP) AS slot,
    last_event_day
  FROM (
    SELECT
      user_id,
      CASE
        WHEN event_date < CAST('2024-02-01' AS DATE)
        THEN -1
        ELSE DATEDIFF(DAY, CAST('2024-02-01' AS DATE), event_date) DIV 90
      END AS period,
      MAX(event_date) AS last_event_day
    FROM events
    WHERE
      event_date < CAST('2024-07-30' AS DATE)
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
  s.value_sum_BUY_PREMIUM_365d AS value_sum_BUY_PREMIUM_365d,
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
