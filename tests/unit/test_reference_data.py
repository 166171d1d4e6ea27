"""Reference data arrives with the migrations, not by hand."""
from sqlalchemy import func, select

from app.extensions import db
from models.reference import (
    Authority,
    Education,
    Occupation,
    OccupationLevel,
    ProfessionalTitle,
    Region,
)

CITIES = {
    "330100": "杭州市", "330200": "宁波市", "330300": "温州市", "330400": "嘉兴市",
    "330500": "湖州市", "330600": "绍兴市", "330700": "金华市", "330800": "衢州市",
    "330900": "舟山市", "331000": "台州市", "331100": "丽水市",
}


def _names(model):
    return list(db.session.scalars(select(model.name).order_by(model.sort_order)))


def test_zhejiang_and_its_eleven_cities(app):
    province = db.session.get(Region, "330000")
    assert province.name == "浙江省" and province.parent_code is None
    cities = dict(db.session.execute(
        select(Region.code, Region.name).where(Region.parent_code == "330000")).all())
    assert cities == CITIES


def test_one_authority_per_city_and_the_province(app):
    authorities = db.session.scalars(select(Authority)).all()
    assert len(authorities) == 12
    assert {a.region_code for a in authorities} == set(CITIES) | {"330000"}
    province = [a for a in authorities if a.level == "province"]
    assert [a.name for a in province] == ["浙江省住房和城乡建设厅"]
    hangzhou = next(a for a in authorities if a.region_code == "330100")
    assert hangzhou.name == "杭州市住房和城乡建设局"


def test_occupations_cover_the_construction_trades(app):
    names = _names(Occupation)
    assert len(names) >= 25
    for trade in ("砌筑工", "钢筋工", "架子工", "混凝土工", "模板工", "防水工", "建筑电工", "焊工",
                  "管道工", "木工", "抹灰工", "油漆工", "测量放线工", "建筑起重信号司索工",
                  "塔式起重机司机"):
        assert trade in names
    assert db.session.scalar(select(func.count()).select_from(Occupation)
                             .where(Occupation.active.is_(False))) == 0


def test_levels_titles_and_education_in_order(app):
    assert _names(OccupationLevel) == ["五级/初级工", "四级/中级工", "三级/高级工", "二级/技师",
                                       "一级/高级技师"]
    assert _names(ProfessionalTitle) == ["无", "员级", "助理级", "中级", "副高级", "正高级"]
    assert _names(Education) == ["小学", "初中", "高中/中专/技校", "大专", "本科", "研究生及以上"]
