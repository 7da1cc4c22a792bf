"""Beijing's default line departments and public-service companies, created by `jiesu units bootstrap`.

These are defaults, not rules: a city edits them afterwards with `jiesu units add/edit`.
`branch` is the district branch's name with {district} for the district's name, or None when the
department has no district branches.
"""

from __future__ import annotations

from typing import NamedTuple


class Department(NamedTuple):
    key: str
    name: str
    short: str
    branch: str | None


DEPARTMENTS: tuple[Department, ...] = (
    Department("cgzf", "北京市城市管理综合行政执法局", "城管执法", "{district}城市管理综合行政执法局"),
    Department("cgw", "北京市城市管理委员会", "城管委", "{district}城市管理委员会"),
    Department("zj", "北京市住房和城乡建设委员会", "住建", "{district}住房和城乡建设委员会"),
    Department("jt", "北京市交通委员会", "交通", "{district}交通局"),
    Department("gajg", "北京市公安局公安交通管理局", "公安交管", "北京市公安局公安交通管理局{district}交通支队"),
    Department("ga", "北京市公安局", "公安", "北京市公安局{district}分局"),
    Department("scjg", "北京市市场监督管理局", "市场监管", "{district}市场监督管理局"),
    Department("sthj", "北京市生态环境局", "生态环境", "北京市{district}生态环境局"),
    Department("wjw", "北京市卫生健康委员会", "卫健", "{district}卫生健康委员会"),
    Department("jw", "北京市教育委员会", "教育", "{district}教育委员会"),
    Department("rs", "北京市人力资源和社会保障局", "人社", "{district}人力资源和社会保障局"),
    Department("gz", "北京市规划和自然资源委员会", "规自", "北京市规划和自然资源委员会{district}分局"),
    Department("sw", "北京市水务局", "水务", "{district}水务局"),
    Department("yl", "北京市园林绿化局", "园林绿化", "{district}园林绿化局"),
    Department("mz", "北京市民政局", "民政", "{district}民政局"),
    Department("whly", "北京市文化和旅游局", "文旅", "{district}文化和旅游局"),
    Department("ybj", "北京市医疗保障局", "医保", "{district}医疗保障局"),
    Department("gjj", "北京住房公积金管理中心", "公积金", "北京住房公积金管理中心{district}管理部"),
)


class Utility(NamedTuple):
    key: str
    name: str
    short: str


UTILITIES: tuple[Utility, ...] = (
    Utility("water", "北京市自来水集团有限责任公司", "供水"),
    Utility("power", "国网北京市电力公司", "供电"),
    Utility("gas", "北京市燃气集团有限责任公司", "燃气"),
    Utility("heating", "北京市热力集团有限责任公司", "供热"),
    Utility("telecom-unicom", "中国联合网络通信有限公司北京市分公司", "联通"),
    Utility("telecom-mobile", "中国移动通信集团北京有限公司", "移动"),
    Utility("telecom-telecom", "中国电信股份有限公司北京分公司", "电信"),
)

CENTRE_CODE = "12345"
CENTRE_NAME = "市民热线服务中心"
