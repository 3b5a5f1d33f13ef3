//! `convert_angle`, `convert_energy`, `convert_force`, `convert_length`, `convert_mass`,
//! `convert_speed`, `convert_temperature`, `convert_volume`: unit conversions with the
//! unit names and factors of the UnitsNet library as of the release Kusto uses (the
//! late-2022 definitions: `Tilt` and `DataMile` exist, `AcreFoot` is 1/0.000810714 m³,
//! `Mile` 1609.34 m, which the reference's examples confirm). Unit names match
//! case-insensitively; an unknown unit gives null.

use super::arg;
use crate::catalog::{FnDef, P, Param, p, row};
use crate::val::Val;
use datafusion::common::Result;
use schema::KqlType;

/// Angle units as factors to Degree (UnitsNet, the version Kusto uses).
static ANGLE: &[(&str, f64)] = &[
    ("Radian", 57.29577951308232),
    ("Nanoradian", 5.7295779513082324e-08),
    ("Microradian", 5.729577951308232e-05),
    ("Milliradian", 0.057295779513082325),
    ("Centiradian", 0.5729577951308232),
    ("Deciradian", 5.729577951308233),
    ("Degree", 1.0),
    ("Nanodegree", 1e-09),
    ("Microdegree", 1e-06),
    ("Millidegree", 0.001),
    ("Arcminute", 0.016666666666666666),
    ("Arcsecond", 0.0002777777777777778),
    ("Gradian", 0.9),
    ("NatoMil", 0.05625),
    ("Revolution", 360.0),
];

/// Energy units as factors to Joule (UnitsNet, the version Kusto uses).
static ENERGY: &[(&str, f64)] = &[
    ("Joule", 1.0),
    ("Millijoule", 0.001),
    ("Kilojoule", 1000.0),
    ("Megajoule", 1000000.0),
    ("Gigajoule", 1000000000.0),
    ("Terajoule", 1000000000000.0),
    ("Petajoule", 1000000000000000.0),
    ("Calorie", 4.184),
    ("Kilocalorie", 4184.0),
    ("Megacalorie", 4184000.0),
    ("BritishThermalUnit", 1055.05585262),
    ("KilobritishThermalUnit", 1055055.85262),
    ("MegabritishThermalUnit", 1055055852.62),
    ("GigabritishThermalUnit", 1055055852620.0),
    ("ElectronVolt", 1.602176565e-19),
    ("KiloelectronVolt", 1.602176565e-16),
    ("MegaelectronVolt", 1.602176565e-13),
    ("GigaelectronVolt", 1.602176565e-10),
    ("TeraelectronVolt", 1.602176565e-07),
    ("FootPound", 1.355817948),
    ("Erg", 1e-07),
    ("WattHour", 3600.0),
    ("KilowattHour", 3600000.0),
    ("MegawattHour", 3600000000.0),
    ("GigawattHour", 3600000000000.0),
    ("TerawattHour", 3600000000000000.0),
    ("WattDay", 86400.0),
    ("KilowattDay", 86400000.0),
    ("MegawattDay", 86400000000.0),
    ("GigawattDay", 86400000000000.0),
    ("TerawattDay", 8.64e+16),
    ("ThermEc", 105505585.262),
    ("DecathermEc", 1055055852.6199999),
    ("ThermUs", 105480400.0),
    ("DecathermUs", 1054804000.0),
    ("ThermImperial", 105505585.257348),
    ("DecathermImperial", 1055055852.57348),
    ("HorsepowerHour", 2684519.5377),
];

/// Force units as factors to Newton (UnitsNet, the version Kusto uses).
static FORCE: &[(&str, f64)] = &[
    ("Dyn", 1e-05),
    ("KilogramForce", 9.80665002864),
    ("TonneForce", 9806.65002864),
    ("Newton", 1.0),
    ("Micronewton", 1e-06),
    ("Millinewton", 0.001),
    ("Decanewton", 10.0),
    ("Kilonewton", 1000.0),
    ("Meganewton", 1000000.0),
    ("KiloPond", 9.80665002864),
    ("Poundal", 0.1382550279897304),
    ("PoundForce", 4.448221615260509),
    ("KilopoundForce", 4448.22161526051),
    ("OunceForce", 0.2780138509537812),
    ("ShortTonForce", 8896.443230521),
];

/// Length units as factors to Meter (UnitsNet, the version Kusto uses).
static LENGTH: &[(&str, f64)] = &[
    ("Meter", 1.0),
    ("Nanometer", 1e-09),
    ("Micrometer", 1e-06),
    ("Millimeter", 0.001),
    ("Centimeter", 0.01),
    ("Decimeter", 0.1),
    ("Decameter", 10.0),
    ("Hectometer", 100.0),
    ("Kilometer", 1000.0),
    ("Mile", 1609.34),
    ("Yard", 0.9144),
    ("Foot", 0.3048),
    ("UsSurveyFoot", 0.3048006096012192),
    ("Inch", 0.0254),
    ("Mil", 2.54e-05),
    ("NauticalMile", 1852.0),
    ("Fathom", 1.8288),
    ("Shackle", 27.432),
    ("Microinch", 2.54e-08),
    ("PrinterPoint", 0.00035145980351459805),
    ("DtpPoint", 0.00035277777777777776),
    ("PrinterPica", 0.004217517599993978),
    ("DtpPica", 0.004233333333332346),
    ("Twip", 1.7638888888889126e-05),
    ("Hand", 0.1016),
    ("AstronomicalUnit", 149597870700.0),
    ("Parsec", 3.08567758128e+16),
    ("Kiloparsec", 3.08567758128e+19),
    ("Megaparsec", 3.08567758128e+22),
    ("LightYear", 9460730472580000.0),
    ("KilolightYear", 9.46073047258e+18),
    ("MegalightYear", 9.46073047258e+21),
    ("SolarRadius", 695510000.0),
    ("Chain", 20.1168),
    ("Angstrom", 1e-10),
    ("DataMile", 1828.8),
];

/// Mass units as factors to Kilogram (UnitsNet, the version Kusto uses).
static MASS: &[(&str, f64)] = &[
    ("Gram", 0.001),
    ("Nanogram", 1.0000000000000002e-12),
    ("Microgram", 1e-09),
    ("Milligram", 1e-06),
    ("Centigram", 1e-05),
    ("Decigram", 0.0001),
    ("Decagram", 0.01),
    ("Hectogram", 0.1),
    ("Kilogram", 1.0),
    ("Tonne", 1000.0),
    ("Kilotonne", 1000000.0),
    ("Megatonne", 1000000000.0),
    ("ShortTon", 907.18474),
    ("LongTon", 1016.0469088),
    ("Pound", 0.45359237),
    ("Kilopound", 453.59237),
    ("Megapound", 453592.37),
    ("Ounce", 0.02834952316484755),
    ("Slug", 14.593903000000001),
    ("Stone", 6.350288000000001),
    ("ShortHundredweight", 45.359237),
    ("LongHundredweight", 50.80234544),
    ("Grain", 6.479891e-05),
    ("SolarMass", 1.98947e+30),
    ("EarthMass", 5.9722e+24),
];

/// Speed units as factors to MeterPerSecond (UnitsNet, the version Kusto uses).
static SPEED: &[(&str, f64)] = &[
    ("MeterPerSecond", 1.0),
    ("NanometerPerSecond", 1e-09),
    ("MicrometerPerSecond", 1e-06),
    ("MillimeterPerSecond", 0.001),
    ("CentimeterPerSecond", 0.01),
    ("DecimeterPerSecond", 0.1),
    ("KilometerPerSecond", 1000.0),
    ("MeterPerMinute", 0.016666666666666666),
    ("NanometerPerMinute", 1.6666666666666667e-11),
    ("MicrometerPerMinute", 1.6666666666666667e-08),
    ("MillimeterPerMinute", 1.6666666666666667e-05),
    ("CentimeterPerMinute", 0.00016666666666666666),
    ("DecimeterPerMinute", 0.0016666666666666668),
    ("KilometerPerMinute", 16.666666666666668),
    ("MeterPerHour", 0.0002777777777777778),
    ("MillimeterPerHour", 2.7777777777777776e-07),
    ("CentimeterPerHour", 2.777777777777778e-06),
    ("KilometerPerHour", 0.2777777777777778),
    ("FootPerSecond", 0.3048),
    ("FootPerMinute", 0.00508),
    ("FootPerHour", 8.466666666666667e-05),
    ("UsSurveyFootPerSecond", 0.3048006096012192),
    ("UsSurveyFootPerMinute", 0.00508001016002032),
    ("UsSurveyFootPerHour", 8.466683600033866e-05),
    ("InchPerSecond", 0.0254),
    ("InchPerMinute", 0.0004233333333333333),
    ("InchPerHour", 7.055555555555555e-06),
    ("YardPerSecond", 0.9144),
    ("YardPerMinute", 0.01524),
    ("YardPerHour", 0.000254),
    ("Knot", 0.514444),
    ("MilePerHour", 0.44704),
    ("Mach", 340.29),
];

/// Volume units as factors to CubicMeter (UnitsNet, the version Kusto uses).
static VOLUME: &[(&str, f64)] = &[
    ("Liter", 0.001),
    ("Nanoliter", 1.0000000000000002e-12),
    ("Microliter", 1e-09),
    ("Milliliter", 1e-06),
    ("Centiliter", 1e-05),
    ("Deciliter", 0.0001),
    ("Decaliter", 0.01),
    ("Hectoliter", 0.1),
    ("Kiloliter", 1.0),
    ("Megaliter", 1000.0),
    ("CubicMeter", 1.0),
    ("HectocubicMeter", 100.0),
    ("KilocubicMeter", 1000.0),
    ("CubicKilometer", 1000000000.0),
    ("CubicHectometer", 1000000.0),
    ("CubicDecimeter", 0.001),
    ("CubicCentimeter", 1e-06),
    ("CubicMillimeter", 1e-09),
    ("CubicMicrometer", 1e-18),
    ("CubicMile", 4168181825.44058),
    ("CubicYard", 0.764554858),
    ("CubicFoot", 0.028316846592),
    ("HectocubicFoot", 2.8316846592),
    ("KilocubicFoot", 28.316846592),
    ("MegacubicFoot", 28316.846592),
    ("CubicInch", 1.6387e-05),
    ("ImperialGallon", 0.0045460900000018145),
    ("KiloimperialGallon", 4.546090000001815),
    ("MegaimperialGallon", 4546.090000001815),
    ("ImperialOunce", 2.84130624999629e-05),
    ("UsGallon", 0.00378541),
    ("DecausGallon", 0.0378541),
    ("DeciusGallon", 0.00037854100000000003),
    ("HectousGallon", 0.378541),
    ("KilousGallon", 3.7854099999999997),
    ("MegausGallon", 3785.41),
    ("UsOunce", 2.9573529562537606e-05),
    ("UsTablespoon", 1.478676478125e-05),
    ("AuTablespoon", 2e-05),
    ("UkTablespoon", 1.5e-05),
    ("MetricTeaspoon", 5e-06),
    ("UsTeaspoon", 4.92892159375e-06),
    ("MetricCup", 0.00025),
    ("UsCustomaryCup", 0.0002365882365),
    ("UsLegalCup", 0.00024),
    ("OilBarrel", 0.158987294928),
    ("UsBeerBarrel", 0.1173477658),
    ("ImperialBeerBarrel", 0.16365924),
    ("UsQuart", 0.000946352946),
    ("UsPint", 0.000473176473),
    ("AcreFoot", 1233.4806109182769),
    ("ImperialPint", 0.00056826125),
    ("BoardFoot", 0.0023597372158),
];

fn factor(table: &[(&str, f64)], unit: &str) -> Option<f64> {
    let u = unit.trim();
    table.iter().find(|(n, _)| n.eq_ignore_ascii_case(u)).map(|(_, f)| *f)
}

fn convert(a: &[Val], table: &[(&str, f64)]) -> Result<Val> {
    let (Some(x), from, to) = (arg(a, 0).as_f64(), arg(a, 1).to_kstring(), arg(a, 2).to_kstring()) else {
        return Ok(Val::Null);
    };
    Ok(match (factor(table, &from), factor(table, &to)) {
        (Some(f), Some(t)) => Val::Real(x * f / t),
        _ => Val::Null,
    })
}

/// Angles, where `Tilt` is the sine of the angle rather than a linear unit.
fn convert_angle(a: &[Val]) -> Result<Val> {
    let (Some(x), from, to) = (arg(a, 0).as_f64(), arg(a, 1).to_kstring(), arg(a, 2).to_kstring()) else {
        return Ok(Val::Null);
    };
    let degrees = if from.trim().eq_ignore_ascii_case("Tilt") {
        x.asin().to_degrees()
    } else {
        match factor(ANGLE, &from) {
            Some(f) => x * f,
            None => return Ok(Val::Null),
        }
    };
    Ok(if to.trim().eq_ignore_ascii_case("Tilt") {
        Val::Real(degrees.to_radians().sin())
    } else {
        match factor(ANGLE, &to) {
            Some(t) => Val::Real(degrees / t),
            None => Val::Null,
        }
    })
}

fn to_kelvin(x: f64, unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "degreecelsius" => x + 273.15,
        "degreedelisle" => 373.15 - x * 2.0 / 3.0,
        "degreefahrenheit" => (x + 459.67) * 5.0 / 9.0,
        "degreenewton" => x * 100.0 / 33.0 + 273.15,
        "degreerankine" => x * 5.0 / 9.0,
        "degreereaumur" => x * 5.0 / 4.0 + 273.15,
        "degreeroemer" => (x - 7.5) * 40.0 / 21.0 + 273.15,
        "kelvin" => x,
        "millidegreecelsius" => x / 1000.0 + 273.15,
        "solartemperature" => x * 5778.0,
        _ => return None,
    })
}

fn from_kelvin(k: f64, unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "degreecelsius" => k - 273.15,
        "degreedelisle" => (373.15 - k) * 3.0 / 2.0,
        "degreefahrenheit" => k * 9.0 / 5.0 - 459.67,
        "degreenewton" => (k - 273.15) * 33.0 / 100.0,
        "degreerankine" => k * 9.0 / 5.0,
        "degreereaumur" => (k - 273.15) * 4.0 / 5.0,
        "degreeroemer" => (k - 273.15) * 21.0 / 40.0 + 7.5,
        "kelvin" => k,
        "millidegreecelsius" => (k - 273.15) * 1000.0,
        "solartemperature" => k / 5778.0,
        _ => return None,
    })
}

const ARGS: &[Param] = &[p("value", P::Num), p("from", P::Str), p("to", P::Str)];

pub static DEFS: &[FnDef] = &[
    row("convert_angle", ARGS, 3, KqlType::Real, convert_angle),
    row("convert_energy", ARGS, 3, KqlType::Real, |a| convert(a, ENERGY)),
    row("convert_force", ARGS, 3, KqlType::Real, |a| convert(a, FORCE)),
    row("convert_length", ARGS, 3, KqlType::Real, |a| convert(a, LENGTH)),
    row("convert_mass", ARGS, 3, KqlType::Real, |a| convert(a, MASS)),
    row("convert_speed", ARGS, 3, KqlType::Real, |a| convert(a, SPEED)),
    row("convert_volume", ARGS, 3, KqlType::Real, |a| convert(a, VOLUME)),
    row("convert_temperature", ARGS, 3, KqlType::Real, |a| {
        let (Some(x), from, to) = (arg(a, 0).as_f64(), arg(a, 1).to_kstring(), arg(a, 2).to_kstring()) else {
            return Ok(Val::Null);
        };
        Ok(to_kelvin(x, &from)
            .and_then(|k| from_kelvin(k, &to))
            .map(Val::Real)
            .unwrap_or(Val::Null))
    }),
];

#[cfg(test)]
mod tests {
    use crate::lit;
    use crate::testkit::call;

    fn conv(f: &str, x: f64, a: &str, b: &str) -> f64 {
        call(f, vec![lit::real(x), lit::string(a), lit::string(b)])
            .parse()
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn documented_examples() {
        assert!((conv("convert_angle", 1.2, "Degree", "Arcminute") - 72.0).abs() < 1e-9);
        assert!((conv("convert_energy", 1.2, "Joule", "BritishThermalUnit") - 0.00113738054437598).abs() < 1e-15);
        assert!((conv("convert_volume", 1.2, "CubicMeter", "AcreFoot") - 0.0009728568).abs() < 1e-12);
        assert!((conv("convert_temperature", 1.2, "Kelvin", "DegreeCelsius") + 271.95).abs() < 1e-9);
        assert!((conv("convert_temperature", 212.0, "DegreeFahrenheit", "DegreeCelsius") - 100.0).abs() < 1e-9);
        assert!((conv("convert_length", 1.0, "Mile", "Kilometer") - 1.60934).abs() < 1e-9);
        assert!((conv("convert_mass", 1.0, "pound", "gram") - 453.59237).abs() < 1e-9);
        assert!((conv("convert_speed", 36.0, "KilometerPerHour", "MeterPerSecond") - 10.0).abs() < 1e-9);
        // That UnitsNet release rounds the US gallon to 3.78541 l.
        assert!((conv("convert_volume", 1.0, "UsGallon", "Liter") - 3.78541).abs() < 1e-9);
        assert!((conv("convert_force", 1.0, "KilogramForce", "Newton") - 9.80665002864).abs() < 1e-9);
        assert!((conv("convert_angle", 30.0, "Degree", "Tilt") - 0.5).abs() < 1e-9);
        assert_eq!(
            call(
                "convert_length",
                vec![lit::real(1.0), lit::string("Furlong"), lit::string("Meter")]
            ),
            ""
        );
    }
}
