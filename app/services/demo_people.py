"""Made-up but realistic workers for the demo history: Chinese names, GB 11643-1999 ID numbers
with valid check digits, mainland mobiles, schooling, titles and exam marks, all drawn from
the random.Random the caller seeds."""
import random
from decimal import Decimal

from app.services.codes import id_check_digit

SURNAMES = ("王王李李张张刘刘陈陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
            "袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏方邹熊孟秦邱江尹薛段雷侯"
            "龙史陶黎贺顾毛郝龚邵万钱严戴")
MALE_FIRST = "建志国永文德海春长金宏立家俊世卫新振学光伟晓明云天正少红"
MALE_SECOND = "华强军平林峰涛斌勇刚杰辉波亮东良生民安福荣发才成龙祥明"
MALE_SINGLE = "强军伟勇杰涛斌磊鹏飞波亮峰刚辉超鑫浩宇"
FEMALE_FIRST = "秀丽春美桂玉海金雪慧晓淑素彩月"
FEMALE_SECOND = "英芳兰萍梅燕玲霞娟珍琴莉凤花"
FEMALE_SINGLE = "芳丽娟敏静燕萍霞婷莉"
# Names the demo and the browser tests give their own trainees: never drawn here.
RESERVED = {"陈建华", "刘丽", "王强", "赵磊", "孙芳", "周伟", "王小明", "李小红"}
STREETS = ("建设路", "解放路", "中山路", "人民路", "环城北路", "江南大道", "创业大道", "工业园路",
           "新华路", "文化路", "兴业街", "学府路")
# GB/T 2260 districts: where a city's workers come from, and where many come from besides.
DISTRICTS = {
    "330100": ("330102", "330105", "330106", "330108", "330109", "330110", "330111", "330122",
               "330127", "330182"),
    "330200": ("330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226",
               "330281", "330282"),
    "330300": ("330302", "330303", "330304", "330305", "330324", "330326", "330327", "330381",
               "330382"),
    "330600": ("330602", "330603", "330604", "330624", "330681", "330683"),
    "330700": ("330702", "330703", "330723", "330726", "330781", "330782", "330783", "330784"),
}
ELSEWHERE = ("340221", "341221", "341522", "342401", "411323", "412726", "510922", "511623",
             "360730", "362422", "522427", "431021", "421127", "500235")
LOCAL_SHARE = 0.75
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176",
                   "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191",
                   "198", "199")
EDUCATION = {"小学": 12, "初中": 46, "高中/中专/技校": 30, "大专": 8, "本科": 4}
TITLES = {"无": 86, "员级": 7, "助理级": 5, "中级": 2}
MARK_SPREAD = 11


def name(rng: random.Random, male: bool) -> str:
    while True:
        first, second, single = ((MALE_FIRST, MALE_SECOND, MALE_SINGLE) if male
                                 else (FEMALE_FIRST, FEMALE_SECOND, FEMALE_SINGLE))
        given = rng.choice(single) if rng.random() < 0.35 else rng.choice(first) + rng.choice(second)
        found = rng.choice(SURNAMES) + given
        if found not in RESERVED:
            return found


def id_number(rng: random.Random, city_code: str, male: bool) -> str:
    """18 characters, born 1968-2003, the sequence's last digit odd for men."""
    area = rng.choice(DISTRICTS[city_code] if rng.random() < LOCAL_SHARE else ELSEWHERE)
    born = f"{rng.randint(1968, 2003)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    sequence = f"{rng.randint(0, 99):02d}{rng.choice('13579' if male else '02468')}"
    first17 = area + born + sequence
    return first17 + id_check_digit(first17)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def street(rng: random.Random) -> str:
    return rng.choice(STREETS)


def education(rng: random.Random) -> str:
    return rng.choices(list(EDUCATION), weights=list(EDUCATION.values()))[0]


def title(rng: random.Random) -> str:
    return rng.choices(list(TITLES), weights=list(TITLES.values()))[0]


def mark(rng: random.Random, mean: float) -> Decimal:
    """An exam mark from 0 to 100 with one decimal."""
    return Decimal(f"{min(100.0, max(0.0, rng.gauss(mean, MARK_SPREAD))):.1f}")
