"""Names of the catalog's partner countries for people (#23): Chinese and English.

pycountry has no Chinese names, so this is a small table of the countries the catalog
and the demo data trade with (ISO 3166-1 alpha-3, the codes stored with every flow);
English falls back to pycountry's common name, Chinese to the English name, and an
unknown code prints as itself. Messages and reports use names; ids stay in labels.
Extend the table when a new partner appears (docs/configuration.md).
"""

from __future__ import annotations

from functools import lru_cache

COUNTRY_NAMES_ZH: dict[str, str] = {
    "ARG": "阿根廷", "AUS": "澳大利亚", "AUT": "奥地利", "BEL": "比利时", "BGR": "保加利亚", "BOL": "玻利维亚",
    "BRA": "巴西", "CAN": "加拿大", "CHE": "瑞士", "CHL": "智利", "CHN": "中国", "CIV": "科特迪瓦",
    "COD": "刚果（金）", "COL": "哥伦比亚", "CUB": "古巴", "CYP": "塞浦路斯", "CZE": "捷克", "DEU": "德国",
    "DNK": "丹麦", "ESP": "西班牙", "EST": "爱沙尼亚", "FIN": "芬兰", "FRA": "法国", "GAB": "加蓬",
    "GBR": "英国", "GHA": "加纳", "GRC": "希腊", "GTM": "危地马拉", "HKG": "中国香港", "HRV": "克罗地亚",
    "HUN": "匈牙利", "IDN": "印度尼西亚", "IND": "印度", "IRL": "爱尔兰", "ISR": "以色列", "ITA": "意大利",
    "JPN": "日本", "KAZ": "哈萨克斯坦", "KOR": "韩国", "LAO": "老挝", "LKA": "斯里兰卡", "LTU": "立陶宛",
    "LUX": "卢森堡", "LVA": "拉脱维亚", "MAR": "摩洛哥", "MDG": "马达加斯加", "MEX": "墨西哥", "MLI": "马里",
    "MLT": "马耳他", "MMR": "缅甸", "MNG": "蒙古", "MOZ": "莫桑比克", "MYS": "马来西亚", "NAM": "纳米比亚",
    "NCL": "新喀里多尼亚", "NGA": "尼日利亚", "NLD": "荷兰", "NOR": "挪威", "PER": "秘鲁", "PHL": "菲律宾",
    "PNG": "巴布亚新几内亚", "POL": "波兰", "PRT": "葡萄牙", "ROU": "罗马尼亚", "RUS": "俄罗斯", "SAU": "沙特阿拉伯",
    "SGP": "新加坡", "SVK": "斯洛伐克", "SVN": "斯洛文尼亚", "SWE": "瑞典", "THA": "泰国", "TUR": "土耳其",
    "TWN": "中国台湾", "TZA": "坦桑尼亚", "UKR": "乌克兰", "USA": "美国", "VNM": "越南", "ZAF": "南非",
    "ZMB": "赞比亚", "ZWE": "津巴布韦",
}

#: Economies that are not ISO 3166 countries but appear as ``home`` or partner.
GROUP_NAMES: dict[str, tuple[str, str]] = {"EU27": ("the EU (27)", "欧盟27国"), "WLD": ("World", "全球")}

#: Where pycountry's only name is an inverted official one ("Congo, The Democratic Republic of the").
COUNTRY_NAMES_EN: dict[str, str] = {"COD": "DR Congo"}


@lru_cache(maxsize=512)
def country_name_en(code: str) -> str:
    """English name of an ISO alpha-3 code (pycountry's common name), else the code."""
    if str(code).upper() in GROUP_NAMES:
        return GROUP_NAMES[str(code).upper()][0]
    if str(code).upper() in COUNTRY_NAMES_EN:
        return COUNTRY_NAMES_EN[str(code).upper()]
    try:
        import pycountry

        country = pycountry.countries.get(alpha_3=str(code).upper())
    except (ImportError, LookupError, KeyError):
        country = None
    if country is None:
        return str(code)
    return getattr(country, "common_name", None) or country.name


def country_name_zh(code: str) -> str:
    """Chinese name of an ISO alpha-3 code from :data:`COUNTRY_NAMES_ZH`, else its English name."""
    code = str(code).upper()
    return COUNTRY_NAMES_ZH.get(code) or (GROUP_NAMES[code][1] if code in GROUP_NAMES else country_name_en(code))
